"""`operator_scale.py --load-runner workers`: the load sent by load workers in the sandbox, where each worker pod
is a real `chaos-operator loadworker` process. Prints figures (benchmarks/README.md), asserts nothing.

    nice -n 10 python benchmarks/operator_scale.py --load-runner workers [--scales 100] [--baseline 20]

In one run, side by side: one loaded experiment alone, then N at once (20 req/s each, one worker each, PodKill of
one pod of a victim Deployment after the baseline). The operator (`chaos-operator run --load-runner workers`, as
the image runs it) is a process of its own; its RSS and event-loop lag come from its /metrics. Printed: the
baseline p50 of experiment cex-0 alone and with the N-1 others (and the median and worst of all N), the operator's
peak RSS while they run and its loop lag p99 over the batch. Every wait is bounded in count and time.
"""

from __future__ import annotations

import copy
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
from typing import Any

from operator_scale import ROOT, TERMINAL, Metrics, free_port, lag_p99, scrape, to_ms

NS = "bench"
LOADED = ("Baseline", "Chaos", "Recovery")  # the phases with load
VICTIMS = 5  # the PodKill targets all experiments share (one each, after its baseline)
KEY = b"operator-scale-bench-key-0123456789"
SPEC: dict[str, Any] = {
    "target": {"selector": {"matchLabels": {"app": "victim"}}, "mode": "fixed", "value": 1},
    "fault": {"kind": "PodKill", "gracePeriodSeconds": 0},
    "load": {"service": {"name": "checkout", "port": 8080}, "path": "/", "rate": 20, "concurrency": 4,
             "timeout": "1s", "workers": 1},
    "phases": {"baseline": "20s", "chaos": "2s", "recovery": "2s"},
}


def operator_argv(server: str, port: int, key_file: pathlib.Path) -> list[str]:
    """The operator as the image runs it (`chaos-operator run`), in a process that imports nothing of this
    benchmark's: its RSS is the operator's own (the benchmark's modules added 7 MiB when the child was this file)."""
    from chaos_sandbox.node.agentpods import OPERATOR_IMAGE

    return [sys.executable, "-m", "chaos_operator", "run", "--server", server, "--metrics-port", str(port),
            "--image", OPERATOR_IMAGE, "--load-runner", "workers", "--load-token-key-file", str(key_file)]


def experiment(name: str, baseline_s: int) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    spec["phases"]["baseline"] = f"{baseline_s}s"
    return {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def baseline_p50_ms(status: dict[str, Any]) -> float | None:
    p50 = ((status.get("phases") or {}).get("baseline") or {}).get("latency", {}).get("p50")
    return None if p50 is None else to_ms(p50)


def baseline_errors(status: dict[str, Any]) -> float | None:
    rate = ((status.get("phases") or {}).get("baseline") or {}).get("errorRate")
    return None if rate is None else float(rate)


def run_batch(box: Any, port: int, prefix: str, count: int, baseline_s: int, timeout: float) -> dict[str, Any]:
    """Apply `count` experiments at once; sample the operator every second until all are terminal (bounded)."""
    names = [f"{prefix}-{i}" for i in range(count)]
    before = scrape(port)
    started = time.monotonic()
    box.apply([experiment(name, baseline_s) for name in names])
    peak_rss, most_running, done = 0.0, 0, {}
    deadline = started + timeout
    while time.monotonic() < deadline:
        metrics: Metrics = scrape(port)
        peak_rss = max(peak_rss, metrics[("process_resident_memory_bytes", ())])
        statuses = {o["metadata"]["name"]: dict(o.get("status") or {}) for o in box.emu.list("chaosexperiments", NS)
                    if o["metadata"]["name"] in names}
        most_running = max(most_running, sum(1 for st in statuses.values() if st.get("phase") in LOADED))
        done = {n: st for n, st in statuses.items() if st.get("phase") in TERMINAL}
        if len(done) == count:
            break
        time.sleep(1.0)
    after = scrape(port)
    p50s = {n: v for n, st in done.items() if (v := baseline_p50_ms(st)) is not None}
    errors = [v for st in done.values() if (v := baseline_errors(st)) is not None]
    return {"count": count, "finished": len(done), "seconds": time.monotonic() - started,
            "reasons": sorted({st.get("reason", "?") for st in done.values()}), "p50s": p50s,
            "errors": statistics.median(errors) if errors else None,
            "rss_mib": peak_rss / 2**20, "lag_p99_ms": lag_p99(before, after) * 1000, "most_running": most_running}


def wait_metrics(port: int, child: subprocess.Popen[bytes]) -> None:
    for _ in range(600):  # at most ~60 s
        if child.poll() is not None:
            raise RuntimeError(f"the operator exited with {child.returncode}")
        try:
            scrape(port)
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    raise RuntimeError("the operator's /metrics did not answer in 60 s")


def main(scales: list[int], baseline_s: int, log_path: str | None) -> int:
    from chaos_sandbox.cluster import Sandbox

    from tests.support.workloads import deployment

    with tempfile.TemporaryDirectory(prefix="operator-scale-") as work, \
            Sandbox(start_delay=0.2, max_seconds=1800, work_dir=pathlib.Path(work)) as box:
        print(f"sandbox: {box.note}", flush=True)
        box.ensure_namespace(NS)
        box.apply(deployment(NS, "checkout", 2, args=["--latency-ms", "5", "--jitter-ms", "2"]))
        box.apply(deployment(NS, "victim", VICTIMS))
        box.wait_ready(NS, "checkout", 2, timeout=60)
        box.wait_ready(NS, "victim", VICTIMS, timeout=60)
        port = free_port()
        key_file = pathlib.Path(work) / "token-key"
        key_file.write_bytes(KEY)
        with open(log_path or "/dev/null", "wb") as log:  # the child keeps its own copy
            child = subprocess.Popen(operator_argv(box.url, port, key_file), cwd=ROOT,
                                     stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_metrics(port, child)
            time.sleep(2)  # kopf's watches are up
            alone = run_batch(box, port, "alone", 1, baseline_s, timeout=240)
            ref = alone["p50s"].get("alone-0")
            print(f"N=1   finished {alone['finished']}/1 {alone['reasons']} in {alone['seconds']:.0f} s; "
                  f"baseline p50 {ref if ref is None else f'{ref:.2f} ms'}; RSS peak {alone['rss_mib']:.0f} MiB; "
                  f"loop lag p99 {alone['lag_p99_ms']:.1f} ms", flush=True)
            for n in scales:
                r = run_batch(box, port, f"n{n}", n, baseline_s, timeout=300 + 3 * n)
                one, values = r["p50s"].get(f"n{n}-0"), list(r["p50s"].values())
                line = (f"N={n:<3} finished {r['finished']}/{n} {r['reasons']} in {r['seconds']:.0f} s, at most "
                        f"{r['most_running']} in a load phase at once; RSS peak {r['rss_mib']:.0f} MiB; loop lag p99 "
                        f"{r['lag_p99_ms']:.1f} ms")
                if one is not None and ref:
                    line += f"; baseline p50 of n{n}-0 {one:.2f} ms (x{one / ref:.2f} of alone)"
                if values and ref:
                    med, worst = statistics.median(values), max(values)
                    line += (f"; of all {len(values)}: median {med:.2f} ms (x{med / ref:.2f}), worst {worst:.2f} ms"
                             f" (x{worst / ref:.2f}), baseline error rate median {r['errors']:.3f}")
                print(line, flush=True)
        finally:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return 0
