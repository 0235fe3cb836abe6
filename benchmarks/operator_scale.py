"""Operator scale benchmark against the API emulator: prints figures (benchmarks/README.md), asserts nothing.

    nice -n 10 python benchmarks/operator_scale.py [--scales 1 10 100] [--trials 20]
    nice -n 10 python benchmarks/operator_scale.py --load-runner workers [--scales 100] [--baseline 20]

The second runs in the sandbox with real load-worker pods: operator_scale_workers.py. The first, below, sends the
load in-process (the emulator runs no pods).

The emulator, the load's target service and the operator (`run_operator`, what `chaos-operator run` runs) each
run in a process of their own (scale_processes.py); the operator's RSS and event-loop lag come from its /metrics.
Only 127.0.0.1 is used and every wait is bounded.

1. apply -> first side effect for one experiment at a time (dry run: the operator's first status write),
   p50/p99 over --trials experiments.
2. N experiments applied at once, N in --scales: dry run, then PodKill with 20 req/s of load each (baseline 5 s):
   apply -> first write p50/p99, time until all N are terminal, operator peak RSS, event-loop lag p99 (from its
   histogram), and the experiments' measured baseline p50 (median and worst) against the single experiment's.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from chaos_sandbox.emulator import kube_client_config
from kubernetes import client, watch
from prometheus_client.parser import text_string_to_metric_families

ROOT = pathlib.Path(__file__).resolve().parent.parent
TERMINAL = ("Completed", "Failed", "Aborted")
GROUP = "chaosoperator.dev"
Metrics = dict[tuple[str, tuple[tuple[str, str], ...]], float]
SHARDS = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> Metrics:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def lag_p99(before: Metrics, after: Metrics) -> float:
    """p99 of the event-loop lag observed between two scrapes, interpolated in the buckets as PromQL does."""
    name = "chaos_operator_event_loop_lag_seconds_bucket"
    buckets = sorted((float(dict(labels)["le"]), after[(n, labels)] - before.get((n, labels), 0.0))
                     for (n, labels) in after if n == name)
    total = buckets[-1][1]
    if total <= 0:
        return math.nan
    rank, prev_le, prev_count = 0.99 * total, 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_count) / max(count - prev_count, 1e-9)
        prev_le, prev_count = le, count
    return math.nan


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def experiment(ns: str, name: str, shard: int, dry: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "target": {"selector": {"matchLabels": {"app": "checkout", "shard": str(shard)}}, "mode": "all"},
        "fault": {"kind": "PodKill", "gracePeriodSeconds": 0},
        "load": {"service": {"name": "checkout", "port": 8080}, "path": "/", "rate": 20, "concurrency": 4,
                 "timeout": "1s"},
        "phases": {"baseline": "5s", "chaos": "1s", "recovery": "1s"}, "dryRun": dry,
    }
    return {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


class Api:
    """What the benchmark writes, over the emulator's HTTP API."""

    def __init__(self, url: str) -> None:
        self.url = url
        api = client.ApiClient(kube_client_config(url))
        self.core, self.custom = client.CoreV1Api(api), client.CustomObjectsApi(api)


def make_pod(api: Api, ns: str, name: str, shard: int) -> None:
    api.core.create_namespaced_pod(ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {  # type: ignore[arg-type]
        "name": name, "namespace": ns, "labels": {"app": "checkout", "shard": str(shard)}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "app:1"}]}})
    api.core.patch_namespaced_pod_status(name, ns, {"status": {"phase": "Running", "podIP": "240.0.0.9",
                                                               "conditions": [{"type": "Ready", "status": "True"}]}})


def batches(trials: int, scales: list[int]) -> list[tuple[str, int, bool]]:
    """(namespace, experiments, dry run): each batch in a namespace of its own, so one list call sees it all."""
    return ([(f"one-{i}", 1, True) for i in range(trials)]
            + [(f"{'dry' if dry else 'load'}-{n}", n, dry) for dry in (True, False) for n in scales])


class Watcher:
    """Sees the batch as a client would: one watch stream (real HTTP) on the batch's namespace, timestamps taken on
    arrival. Polling instead would load the emulator, which shares this process, more than the operator does."""

    def __init__(self, url: str, ns: str, count: int) -> None:
        self.api = client.CustomObjectsApi(client.ApiClient(kube_client_config(url)))
        self.ns, self.count = ns, count
        self.first: dict[str, float] = {}
        self.done: dict[str, dict[str, Any]] = {}
        self.all_done = threading.Event()
        self.finished_at: float | None = None
        self.ready = threading.Event()
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        self.ready.wait(30)

    def _main(self) -> None:
        listing: Any = self.api.list_namespaced_custom_object(GROUP, "v1alpha1", self.ns, "chaosexperiments")
        self.ready.set()
        events: Any = self._watch.stream(  # type: ignore[no-untyped-call]
            self.api.list_namespaced_custom_object, GROUP, "v1alpha1", self.ns, "chaosexperiments",
            resource_version=listing["metadata"]["resourceVersion"], timeout_seconds=900)
        try:
            self._follow(events)
        except Exception:  # the stream closed under us at the end of a batch
            pass

    def _follow(self, events: Any) -> None:
        for event in events:
            obj = event["object"]
            name, st = obj["metadata"]["name"], dict(obj.get("status") or {})
            if st and name not in self.first:
                self.first[name] = time.monotonic()
            if st.get("phase") in TERMINAL:
                self.done[name] = st
                if len(self.done) == self.count:
                    self.finished_at = time.monotonic()
                    self.all_done.set()
                    return

    def stop(self) -> None:
        self._watch.stop()  # type: ignore[no-untyped-call]


def run_batch(emu: Api, port: int, ns: str, count: int, dry: bool, timeout: float) -> dict[str, Any]:
    emu.core.create_namespaced_service(ns, {"apiVersion": "v1", "kind": "Service", "metadata": {  # type: ignore[arg-type]
        "name": "checkout", "namespace": ns}, "spec": {"selector": {"app": "checkout"}, "ports": [{"port": 8080}]}})
    names = [f"cex-{i}" for i in range(count)]
    shards = {name: next(SHARDS) for name in names}  # every experiment its own pod
    for name in names:
        make_pod(emu, ns, f"{name}-pod", shards[name])
    watcher = Watcher(emu.url, ns, count)
    before = scrape(port)
    applied: dict[str, float] = {}
    for name in names:
        applied[name] = time.monotonic()
        emu.custom.create_namespaced_custom_object(GROUP, "v1alpha1", ns, "chaosexperiments",
                                                   experiment(ns, name, shards[name], dry))
    peak_rss = 0.0
    deadline = time.monotonic() + timeout
    while not watcher.all_done.wait(0.5) and time.monotonic() < deadline:
        peak_rss = max(peak_rss, scrape(port)[("process_resident_memory_bytes", ())])
    watcher.stop()
    done = dict(watcher.done)
    all_done = (watcher.finished_at or time.monotonic()) - min(applied.values())
    after = scrape(port)
    peak_rss = max(peak_rss, after[("process_resident_memory_bytes", ())])
    p50s = [st["phases"]["baseline"]["latency"]["p50"] for st in done.values()
            if st.get("phases", {}).get("baseline", {}).get("latency")]
    first = [watcher.first[n] - applied[n] for n in names if n in watcher.first]
    return {"count": count, "finished": len(done), "first": first, "all_done": all_done,
            "rss_mb": peak_rss / 2**20, "lag_p99": lag_p99(before, after), "baseline_p50": p50s,
            "reasons": sorted({st.get("reason", "?") for st in done.values()})}


def to_ms(duration: str | float) -> float:
    if isinstance(duration, int | float):
        return float(duration) * 1000
    text = str(duration)
    for unit, factor in (("ms", 1.0), ("us", 0.001), ("µs", 0.001), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text) * 1000


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", type=int, nargs="+", help="default 1 10 100 (workers: 100)")
    p.add_argument("--load-runner", choices=("inprocess", "workers"), default="inprocess",
                   help="inprocess: the emulator scenario below; workers: operator_scale_workers.py in the sandbox")
    p.add_argument("--baseline", type=int, default=20, help="workers: the baseline phase, seconds")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)  # SERVER SERVICE PORT NAMESPACE...
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    p.add_argument("--emulator", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.emulator or args.serve or args.child:
        import scale_processes

        scale_processes.run(args.emulator, args.serve, args.child)
        return 0
    if args.load_runner == "workers":
        import operator_scale_workers

        return operator_scale_workers.main(args.scales or [100], args.baseline, os.environ.get("BENCH_OPERATOR_LOG"))
    plan = batches(args.trials, args.scales or [1, 10, 100])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the child processes
    svc_port = free_port()
    service = subprocess.Popen([sys.executable, __file__, "--serve", str(svc_port)])
    emulator = subprocess.Popen([sys.executable, __file__, "--emulator"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    assert emulator.stdout is not None and emulator.stdin is not None
    emu = Api(emulator.stdout.readline().strip())
    port = free_port()
    target = f"http://127.0.0.1:{svc_port}"
    with open(os.environ.get("BENCH_OPERATOR_LOG", os.devnull), "wb") as log:  # the child keeps its own copy
        child = subprocess.Popen([sys.executable, __file__, "--child", emu.url, target, str(port),
                                  *(ns for ns, _, _ in plan)],
                                 stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                scrape(port)
                urllib.request.urlopen(f"http://127.0.0.1:{svc_port}/", timeout=5).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(2)  # kopf's watches are up
        singles: list[float] = []
        for ns, _, _ in plan[:args.trials]:
            singles += run_batch(emu, port, ns, 1, dry=True, timeout=30)["first"]
        print(f"1. apply -> first side effect (status write), one dry-run experiment at a time, {len(singles)} "
              f"trials: p50 {pct(singles, 0.5) * 1000:.0f} ms, p99 {pct(singles, 0.99) * 1000:.0f} ms")
        print("2. N experiments at once")
        single_p50: float | None = None
        for ns, n, dry in plan[args.trials:]:
            r = run_batch(emu, port, ns, n, dry, timeout=60 + 2 * n)
            line = (f"  {'dry-run' if dry else '20 req/s':8} N={n:<3} finished {r['finished']}/{n} "
                    f"{r['reasons']}; first write p50 {pct(r['first'], 0.5) * 1000:.0f} ms "
                    f"p99 {pct(r['first'], 0.99) * 1000:.0f} ms; all terminal {r['all_done']:.1f} s; "
                    f"RSS peak {r['rss_mb']:.0f} MiB; loop lag p99 {r['lag_p99'] * 1000:.1f} ms")
            if r["baseline_p50"]:
                p50s = [to_ms(v) for v in r["baseline_p50"]]
                single_p50 = statistics.median(p50s) if single_p50 is None else single_p50
                line += (f"; baseline p50 median {statistics.median(p50s):.2f} ms, worst {max(p50s):.2f} ms"
                         f" (x{statistics.median(p50s) / single_p50:.2f} / x{max(p50s) / single_p50:.2f}"
                         " of N=1)")
            print(line, flush=True)
    finally:
        emulator.stdin.close()
        for proc in (child, service, emulator):
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
