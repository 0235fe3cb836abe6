"""One run's status writes at scale: the real `Recorder` and `ChaosWindow` over the real `KubeClient`, against the
API emulator, with N pods selected (`make_pod`), a helper-like fault (a helper pod name and the messages
`faults/helpers/pod.py` writes) and a whole ending (checks, analysis, a full timeline). A store listener keeps the
time and the size of every stored status. Shared by tests/integration/test_status_scale.py and
benchmarks/status_writes.py."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.emulator.store import Event

from chaos_operator.adapters.clock import SystemClock
from chaos_operator.adapters.kube import KubeClient, client_config
from chaos_operator.engine.chaos_window import ChaosWindow
from chaos_operator.engine.recorder import Recorder
from chaos_operator.faults.base import FaultContext, HelperWatch
from chaos_operator.faults.helpers.pod_spec import helper_name
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import (
    TIMELINE_MARKS,
    TIMELINE_POINTS,
    Check,
    Comparison,
    ComparisonClass,
    ExperimentStatus,
    Injection,
    Phase,
    PhaseResult,
    TargetRef,
    Timeline,
    TimelineMark,
    TimelinePoint,
    TimelineWindow,
    Verdict,
)
from chaos_operator.ports import ExperimentRef
from chaos_operator.targeting.pods import pod_info
from tests.integration.conftest import SHOP, experiment, make_pod

NAME = "scale"


@dataclass
class StatusWrites:
    """Every status the emulator stored for one experiment: (monotonic time, bytes of its JSON)."""

    name: str
    stored: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Event) -> None:
        if event.key != ("chaosoperator.dev", "chaosexperiments") or event.type != "MODIFIED":
            return
        if (event.obj.get("metadata") or {}).get("name") != self.name:
            return
        if (event.old or {}).get("status") == event.obj.get("status"):
            return
        size = len(json.dumps(event.obj.get("status"), separators=(",", ":")))
        with self.lock:
            self.stored.append((time.monotonic(), size))

    def most_in_one_second(self) -> int:
        times = [t for t, _ in self.stored]
        return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)


@dataclass(frozen=True)
class Figures:
    targets: int
    record_changes: int  # each record's state changes: what was one write each before coalescing
    writes: int
    max_bytes: int
    total_bytes: int
    most_in_one_second: int
    final: dict[str, Any] = field(compare=False, default_factory=dict)  # the status stored last

    def line(self) -> str:
        return (f"{self.targets} targets: {self.writes} status writes for {self.record_changes} record changes, "
                f"largest status {self.max_bytes} bytes ({self.max_bytes / 1024:.1f} KiB), "
                f"{self.total_bytes / 1e6:.1f} MB written, at most {self.most_in_one_second} writes in one second")


class HelperLikeFault:
    """Holds nothing; reports what a helper-pod fault reports (its helper's name, the messages of pod.py)."""

    kind = "NetworkLatency"
    instant = False

    def __init__(self, experiment_uid: str) -> None:
        self.experiment_uid = experiment_uid

    def _helper(self, record: Injection) -> str:
        return helper_name(NAME, self.experiment_uid, record.uid, self.kind, "fault")

    async def apply(self, ctx: FaultContext, record: Injection) -> dict[str, Any]:
        await asyncio.sleep(0.001)
        name = self._helper(record)
        return {"helper_pod": name, "message": f"helper pod {name} on node node-1 holds the fault"}

    async def verify(self, ctx: FaultContext, record: Injection) -> bool:
        return True

    async def recover(self, ctx: FaultContext, record: Injection) -> dict[str, Any] | None:
        await asyncio.sleep(0.001)
        return {"message": f"helper pod {self._helper(record)} deleted; agent reverted"}

    def repeat_interval(self, ctx: FaultContext) -> float | None:
        return None

    def helpers(self) -> HelperWatch | None:
        return None


def _phase(started: str, seconds: float) -> PhaseResult:
    return PhaseResult(started_at=started, finished_at=started, requests=int(100 * seconds), errors=0,
                       error_rate=0.0, throughput=100.0)


def _ending(started: str) -> dict[str, Any]:
    """The largest ending status allows: every check, every comparison, a full timeline."""
    checks = [Check(name=f"check{i}", phase="chaos", observed="0.012", limit="0.05", passed=True) for i in range(8)]
    analysis = [Comparison(metric=metric, comparison=comparison, class_=ComparisonClass.EQUIVALENT, tolerance=0.2,
                           samples=12000, baseline_samples=6000, estimate=0.0123, interval=[-0.0456, 0.0789],
                           min_detectable=0.0321)
                for metric in ("latencyP50", "latencyP95", "latencyP99", "errorRate")
                for comparison in ("baselineVsChaos", "baselineVsRecovery")]
    timeline = Timeline(
        started_at=started, step_seconds=1,
        windows=[TimelineWindow(phase="baseline", start=0, end=80), TimelineWindow(phase="chaos", start=80, end=160),
                 TimelineWindow(phase="recovery", start=160, end=240)],
        points=[TimelinePoint(t=i, requests=100, errors=1, p50_ms=12.345, p95_ms=45.678)
                for i in range(TIMELINE_POINTS)],
        marks=[TimelineMark(t=80 + i, kind="Injected", count=1) for i in range(TIMELINE_MARKS)])
    return dict(checks=checks, score=100, grade="GOOD", timeline=timeline, analysis=analysis)


async def _run(emulator: EmulatorThread, pods: int, hold_s: float) -> int:
    obj = emulator.get("chaosexperiments", SHOP, NAME) or {}
    meta = obj["metadata"]
    ref = ExperimentRef(SHOP, NAME, meta["uid"])
    kube = KubeClient(client_config(server=emulator.url))
    clock = SystemClock()
    recorder = Recorder(kube, clock, ref, ExperimentStatus(), kind="NetworkLatency",
                        resource_version=str(meta["resourceVersion"]))
    found = await kube.list_pods(SHOP, "app=checkout")
    targets = [TargetRef(name=p.name, uid=p.uid, node_name=p.node_name, pod_ip=p.pod_ip)
               for p in map(pod_info, found)]
    await recorder.begin("started")
    await recorder.select_targets(targets, seed=7, ready_before=len(targets))
    await recorder.enter(Phase.BASELINE, "measuring the baseline")
    await recorder.record_phase("baseline", _phase(recorder.timestamp(), 80))
    await recorder.enter(Phase.CHAOS, "injecting NetworkLatency")
    spec = ExperimentSpec.model_validate(obj["spec"])
    ctx = FaultContext(kube=kube, clock=clock, namespace=SHOP, experiment=NAME, spec=spec,
                       label_selector="app=checkout", ready_before=len(targets), operator_namespace="chaos-system",
                       experiment_uid=ref.uid)
    window = ChaosWindow(recorder, HelperLikeFault(ref.uid), ctx, asyncio.Event(), poll_s=0.5, retry_s=5.0)
    injected = await window.inject_round(targets)
    await asyncio.sleep(hold_s)
    await window.recover_all()
    await window.close()
    await recorder.record_phase("chaos", _phase(recorder.timestamp(), 80))
    await recorder.enter(Phase.RECOVERY, "measuring recovery")
    await recorder.record_recovery(_phase(recorder.timestamp(), 80), 1.5)
    await recorder.enter(Phase.ANALYZING, "analysing")
    await recorder.finish(Phase.COMPLETED, Verdict.PASSED, "Passed", "every SLO held",
                          **_ending(recorder.timestamp()))
    kube.close()
    return injected


def run(emulator: EmulatorThread, pods: int, hold_s: float = 1.0) -> Figures:
    """Create ``pods`` pods and one experiment, run it through the recorder; the figures of what was stored."""
    for i in range(pods):
        make_pod(emulator, SHOP, f"checkout-7d9f8c6b5-{i:05d}", {"app": "checkout"})
    emulator.create("chaosexperiments", experiment(NAME, SHOP, fault={"kind": "NetworkLatency", "latency": "100ms"}),
                    SHOP)
    writes = StatusWrites(NAME)
    emulator.call(emulator.emulator.store.listeners.append, writes)
    injected = asyncio.run(_run(emulator, pods, hold_s))
    with writes.lock:
        sizes = [size for _, size in writes.stored]
    final = (emulator.get("chaosexperiments", SHOP, NAME) or {}).get("status") or {}
    return Figures(targets=pods, record_changes=3 * injected, writes=len(sizes), max_bytes=max(sizes, default=0),
                   total_bytes=sum(sizes), most_in_one_second=writes.most_in_one_second(), final=final)
