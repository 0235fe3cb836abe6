"""Kill-anywhere campaign: for every fault kind, SIGKILL the operator at instants spread over an experiment's life
(baseline, the injection step, chaos, recovery, analysis), restart it, and check what it leaves.

The sandbox runs real pod processes, helper pods with the real agent, tbf qdiscs and stress-ng (root only), and each
experiment's load workers as real processes. The operator runs as a process of its own with `--load-runner workers`
(tests/support/operator_process.py), so a SIGKILL is a real crash. One operator process lives from one kill to the
next: it picks the killed run up from the workers' data and finishes it, then the next run starts under it.

Each run is checked: the experiment reaches a terminal phase; no record still says `Injected` once it ended (its
fault is gone or left behind, either way a lie); nothing is left (helper pods, agent and stress-ng processes, our
qdiscs, cgroups, network namespaces, the run's load Job and pods; tests/e2e/faults.py). A run counts as measured
when it ended `Completed` with a verdict and every phase's load coverage at 95 % or more. After the last run the
sandbox stops and its run's leftovers are scanned.

`python -m tests.campaign.kill_anywhere --instants 10 --seed 1 --out docs/chaos-campaign.md` (`make chaos-campaign`).
"""

from __future__ import annotations

import argparse
import pathlib
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chaos_sandbox import leftovers
from chaos_sandbox.cluster import Sandbox

from chaos_operator.loadworker import job
from tests.campaign.report import render
from tests.e2e.faults import assert_nothing_left
from tests.support.system import netem_missing
from tests.support.waits import DONE, status_of, wait_for
from tests.support.workloads import deployment

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Long enough that an unkilled run has a verdict (40 req/s: 200 requests in the baseline, 160 in recovery).
PHASES = {"baseline": "5s", "chaos": "8s", "recovery": "4s"}
KEY = "campaign-load-token-key-0123456789"
FAULTS: dict[str, dict[str, Any]] = {
    "PodKill": {"kind": "PodKill", "gracePeriodSeconds": 0},
    "NetworkLatency": {"kind": "NetworkLatency", "latency": "50ms"},
    "NetworkBandwidth": {"kind": "NetworkBandwidth", "rate": "8mbit"},
    # A real htb + u32 filter + blackhole qdisc on the host kernel; the documentation range is never dialled.
    "NetworkPartition": {"kind": "NetworkPartition", "destinations": [{"cidr": "203.0.113.0/24"}]},
    # netem kinds: on a kernel without sch_netem their injection fails, as NetworkLatency's does.
    "NetworkLoss": {"kind": "NetworkLoss", "percent": 10},
    "NetworkCorruption": {"kind": "NetworkCorruption", "percent": 10},
    "NetworkDuplication": {"kind": "NetworkDuplication", "percent": 10},
    "CPUStress": {"kind": "CPUStress", "workers": 1, "load": 50},
    "MemoryStress": {"kind": "MemoryStress", "workers": 1, "size": "32Mi"},
}
REPLICAS = {"PodKill": 2}  # a killed pod is replaced while the other serves
# Where in the life of an experiment a kill lands: the event that opens the window, and the window's length (s).
STAGES: dict[str, float] = {"baseline": 4.0, "injecting": 0.8, "chaos": 6.0, "recovery": 3.0, "analysis": 0.3}


@dataclass
class Run:
    kind: str
    stage: str
    delay: float
    killed_in: str = ""  # the phase (and records) seen just before the SIGKILL
    phase: str = ""  # the terminal phase, or what it was when we gave up
    reason: str = ""
    verdict: str = ""
    coverage: float | None = None  # the lowest of the three phases' load coverage
    records: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # lies in status and residue

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def measured(self) -> bool:
        """Ended with a verdict from all three phases at full coverage: the kill cost the run nothing."""
        return self.phase == "Completed" and bool(self.verdict) and (self.coverage or 0.0) >= 0.95


def experiment(name: str, ns: str, kind: str) -> dict[str, Any]:
    return {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"target": {"selector": {"matchLabels": {"app": "app"}}, "mode": "one"},
                     "fault": dict(FAULTS[kind]),
                     "load": {"service": {"name": "app", "port": 8080}, "path": "/", "rate": 40, "concurrency": 8,
                              "timeout": "2s"},
                     "phases": dict(PHASES), "slos": {"maxErrorRate": 1.0}}}


class Operator:
    """The real operator in its own process; `kill()` is a crash (SIGKILL: nothing is recovered on the way out)."""

    def __init__(self, box: Sandbox) -> None:
        argv = [sys.executable, "-m", "tests.support.operator_process", "--server", box.url, "--max-seconds", "3600",
                "--load-runner", "workers", "--load-token-key", KEY]
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        try:
            if self.proc.stdout.readline().strip() != "ready":
                raise RuntimeError("the operator process did not start")
        except BaseException:  # a Ctrl-C while it starts must not leave it running
            self.kill()
            raise

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def stage_open(stage: str, status: dict[str, Any]) -> bool:
    """Whether the event that opens `stage`'s window has happened."""
    phase, records = status.get("phase"), status.get("injections") or []
    if stage == "injecting":  # a Pending record is written before the fault is applied
        return bool(records) or phase in ("Recovery", "Analyzing", *DONE)
    if stage == "chaos":
        return (phase == "Chaos" and bool(records) and all(r["state"] != "Pending" for r in records)) or phase in (
            "Recovery", "Analyzing", *DONE)
    order = ["Baseline", "Chaos", "Recovery", "Analyzing", *DONE]
    first = {"baseline": "Baseline", "recovery": "Recovery", "analysis": "Analyzing"}[stage]
    return phase in order[order.index(first):]


def describe(status: dict[str, Any]) -> str:
    records = ",".join(r["state"] for r in status.get("injections") or [])
    return f"{status.get('phase', 'none')}" + (f"[{records}]" if records else "")


class Campaign:
    def __init__(self, box: Sandbox, seed: int, log: Callable[[str], None] = print) -> None:
        self.box, self.rng, self.log = box, random.Random(seed), log
        self.operator: Operator | None = None
        self.count = 0

    def restart(self) -> None:
        if self.operator is not None:
            self.operator.kill()
        self.operator = Operator(self.box)

    def close(self) -> None:
        if self.operator is not None:
            self.operator.kill()
            self.operator = None

    @contextmanager
    def workload(self, kind: str) -> Iterator[str]:
        """A namespace with the demo app for `kind`'s runs; its Deployment is deleted afterwards."""
        ns = f"camp-{kind.lower()}"
        self.box.apply(deployment(ns, "app", REPLICAS.get(kind, 1), args=["--latency-ms", "1"]))
        self.box.wait_ready(ns, "app", REPLICAS.get(kind, 1))
        try:
            yield ns
        finally:
            self.box.emu.delete("deployments", ns, "app")
            wait_for("the workload's pods gone", lambda: not self.box.emu.list("pods", ns), 60)

    def run(self, kind: str, ns: str, stage: str) -> Run:
        run = Run(kind, stage, round(self.rng.uniform(0, STAGES[stage]), 2))
        self.count += 1
        name = f"k{self.count:03d}"
        targets = {p["metadata"]["uid"] for p in self.box.emu.list("pods", ns)}
        (created,) = self.box.apply([experiment(name, ns, kind)])
        uid = created["metadata"]["uid"]
        wait_for(f"{stage} of {name}", lambda: stage_open(stage, status_of(self.box.emu, name, ns)), 60, every=0.02)
        time.sleep(run.delay)
        run.killed_in = describe(status_of(self.box.emu, name, ns))
        self.restart()  # SIGKILL, and the next operator
        try:
            final = wait_for(f"{name} to end", lambda: (s := status_of(self.box.emu, name, ns)).get(
                "phase") in DONE and s, 90, every=0.1)
        except AssertionError:
            final = status_of(self.box.emu, name, ns)
            run.problems.append(f"not terminal: {describe(final)}")
        run.phase, run.reason, run.verdict = final.get("phase", ""), final.get("reason", ""), final.get("verdict", "")
        phases = final.get("phases") or {}
        shares = [(phases.get(p) or {}).get("coverage") for p in ("baseline", "chaos", "recovery")]
        covered = [float(c) for c in shares if c is not None]
        run.coverage = min(covered) if len(covered) == len(shares) else None
        run.records = [r["state"] for r in final.get("injections") or []]
        if "Injected" in run.records and run.phase in DONE:
            run.problems.append(f"ended with a record still Injected: {run.records}")
        try:
            assert_nothing_left(self.box, ns, targets)
            wait_for("the run's load workers gone", lambda: not self.box.emu.list(
                "pods", ns, label_selector=f"{job.UID_LABEL}={uid}") and self.box.emu.get(
                "jobs", ns, job.names(name, uid)["job"]) is None, 30)
        except AssertionError as exc:
            run.problems.append(f"left behind: {exc}")
        self.log(f"{kind:16} {stage:9} +{run.delay:4.2f}s killed in {run.killed_in:28} -> {run.phase}/{run.reason}"
                 f"/{run.verdict or '-'} coverage {run.coverage} {run.records} {'ok' if run.ok else run.problems}")
        return run

def schedule(instants: int, first: int = 0) -> list[str]:
    """`instants` stages, spread over the whole life: every stage in turn, from the `first`th."""
    stages = list(STAGES)
    return [stages[(first + i) % len(stages)] for i in range(instants)]


def campaign(kinds: Sequence[str], instants: int, seed: int, log: Callable[[str], None] = print,
             work_dir: pathlib.Path | None = None) -> tuple[list[Run], str]:
    """Every run, and what the sandbox's leftover scan found after it stopped ('' when nothing)."""
    runs: list[Run] = []
    with Sandbox(start_delay=0.3, max_seconds=7200, work_dir=work_dir) as box:
        camp = Campaign(box, seed, log)
        try:
            for k, kind in enumerate(kinds):  # a short campaign still kills each kind in another stage
                with camp.workload(kind) as ns:
                    camp.restart()
                    runs += [camp.run(kind, ns, stage) for stage in schedule(instants, first=k)]
        finally:
            camp.close()
    left = leftovers.scan(box.token)
    return runs, "" if left.empty else left.describe()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.campaign.kill_anywhere", description=__doc__.split("\n")[0])
    p.add_argument("--instants", type=int, default=10, help="kills per fault kind")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kinds", nargs="*", default=list(FAULTS))
    p.add_argument("--out", type=pathlib.Path, help="write the figures (markdown) here")
    args = p.parse_args(argv)
    started = time.monotonic()
    runs, left = campaign(args.kinds, args.instants, args.seed)
    text = render(runs, left, seed=args.seed, instants=args.instants, seconds=time.monotonic() - started,
                  netem=netem_missing())
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0 if all(r.ok for r in runs) and not left else 1


if __name__ == "__main__":
    sys.exit(main())
