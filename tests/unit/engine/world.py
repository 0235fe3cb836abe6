"""A whole run on a virtual clock: the runner with fake ports (fakes.py), shared by the runner's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaos_operator.engine import failclosed
from chaos_operator.engine.deps import Control, Deps
from chaos_operator.engine.gating import Gates
from chaos_operator.engine.recorder import Recorder
from chaos_operator.engine.runner import Runner
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import ExperimentStatus
from chaos_operator.ports import ExperimentRef
from chaos_operator.sli.source import MetricsSource
from tests.support.clock import FakeClock
from tests.support.fake_kube import FakeKube
from tests.unit.engine.fakes import FakeLoad, RecordingFault

BASELINE, CHAOS, RECOVERY = 10.0, 20.0, 10.0
CHAOS_START, CHAOS_END = BASELINE, BASELINE + CHAOS


def make_spec(**extra: Any) -> ExperimentSpec:
    return ExperimentSpec.model_validate({
        "target": {"selector": {"matchLabels": {"app": "checkout"}}, "mode": "all"},
        "fault": {"kind": "PodKill"},
        "load": {"service": {"name": "checkout", "port": 8080}},
        "phases": {"baseline": f"{BASELINE:g}s", "chaos": f"{CHAOS:g}s", "recovery": f"{RECOVERY:g}s"},
        **extra})


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    abort: bool = False
    stopping: bool = False
    metrics: MetricsSource | None = None
    gates: Gates = field(default_factory=Gates)

    def __post_init__(self) -> None:
        self.kube = FakeKube(self.clock, pods=3)
        self.load = FakeLoad(self.clock)
        self.fault = RecordingFault(self.clock)
        self.loads_opened = 0

    async def _open_load(self, spec: ExperimentSpec, experiment: ExperimentRef) -> FakeLoad:
        self.loads_opened += 1
        return self.load

    def _open_metrics(self, url: str) -> MetricsSource:
        assert self.metrics is not None
        return self.metrics

    async def run(self, spec: ExperimentSpec | None = None, status: ExperimentStatus | None = None) -> None:
        deps = Deps(kube=self.kube, clock=self.clock, open_load=self._open_load,  # type: ignore[arg-type]
                    operator_namespace="chaos-system", fault_for=lambda kind: self.fault,
                    open_metrics=None if self.metrics is None else self._open_metrics, gates=self.gates)
        recorder = Recorder(self.kube, self.clock, ExperimentRef("shop", "exp", "exp-uid"),  # type: ignore[arg-type]
                            status or ExperimentStatus())
        control = Control(abort_requested=lambda: self.abort, stopping=lambda: self.stopping)
        spec = spec or make_spec()
        # As the daemon does (runtime/handlers.py): a status found unreadable mid-run fails closed.
        await self.clock.drive(failclosed.guarded(deps, recorder.ref, spec, recorder,
                                                  Runner(deps, spec, recorder, control).run()))

    def calls(self, kind: str) -> list[float]:
        return [t for t, call, _ in self.fault.calls if call == kind]
