"""A scripted load, a recording fault and fixed metrics: the runner's ports, faked (with tests/support/clock.py's
FakeClock and tests/support/fake_kube.py's FakeKube), so every decision of the runner runs in milliseconds of real
time."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chaos_operator.analysis.buckets import bucket_of
from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.faults.base import FaultContext, FaultError, HelperWatch
from chaos_operator.models.duration import Duration
from chaos_operator.models.status import ExperimentStatus, Injection, Latency, PhaseResult, Ramp
from chaos_operator.models.timestamps import format_time
from chaos_operator.ports import LoadResult
from tests.support.clock import FakeClock


@dataclass
class Health:
    """How the service answers during one phase: errors per 100 requests and the latency."""

    error_pct: int = 0
    latency_s: float = 0.010


@dataclass
class FakeLoad:
    """Sends nothing: each phase lasts its duration on the virtual clock (or until stopped), 50 requests a second."""

    clock: FakeClock
    script: list[Health] = field(default_factory=lambda: [Health(), Health(), Health()])
    rate: int = 50
    phases_run: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each phase
    closed: bool = False

    async def run_phase(self, duration_s: float, stop: Any, split: Any = None) -> LoadResult:
        health = self.script[min(len(self.phases_run), len(self.script) - 1)]
        started, wall = self.clock.monotonic(), self.clock.now()
        split_at: list[float] = []

        async def note_split() -> None:
            await split.wait()
            split_at.append(self.clock.monotonic())
        watcher = asyncio.ensure_future(note_split()) if split is not None else None
        await self.clock.wait_for(stop, duration_s)
        if watcher is not None:
            watcher.cancel()
        end = self.clock.monotonic()
        self.phases_run.append((started, end))
        errors = self.rate * health.error_pct // 100
        timed = self.rate - errors  # failed requests here are refused connections: no latency
        samples = [SecondSample(offset_s=float(s), requests=self.rate, errors=errors, p95_s=health.latency_s,
                                latency_count=timed, latency_sum_s=health.latency_s * timed,
                                histogram=((bucket_of(health.latency_s), timed),) if timed else ())
                   for s in range(int(end - started))]
        if not split_at:
            return LoadResult(self._result(health, wall, end - started), started, samples)
        ramp_s = split_at[0] - started
        ramp = self._result(health, wall, ramp_s)
        result = self._result(health, wall + datetime.timedelta(seconds=ramp_s), end - split_at[0])
        figures = Ramp(started_at=ramp.started_at, finished_at=ramp.finished_at, requests=ramp.requests,
                       errors=ramp.errors, error_rate=ramp.error_rate)
        return LoadResult(result.model_copy(update={"ramp": figures}), started, samples, split_offset_s=ramp_s)

    def _result(self, health: Health, start: datetime.datetime, seconds: float) -> PhaseResult:
        requests = int(self.rate * seconds)
        errors = requests * health.error_pct // 100
        lat = Duration(health.latency_s)
        latency = Latency(mean=lat, p50=lat, p90=lat, p95=lat, p99=lat, max=lat) if requests > errors else None
        return PhaseResult(started_at=format_time(start), finished_at=format_time(start + datetime.timedelta(
            seconds=seconds)), requests=requests, errors=errors, error_rate=errors / requests if requests else 0.0,
            throughput=float(self.rate), latency=latency)

    async def close(self) -> None:
        self.closed = True


@dataclass
class RecordingFault:
    """A fault that touches nothing and notes each call with its virtual time."""

    clock: FakeClock
    kind: str = "PodKill"
    instant: bool = False
    interval: float | None = None
    refuse: bool = False
    apply_s: float = 0.0  # how long an injection takes to be in effect (a helper pod starting)
    whole_after: float = 0.0  # virtual time from which verify() finds the workload whole again
    recover_s: float = 0.0  # how long a recovery takes (a helper pod being deleted)
    refuse_targets: frozenset[str] = frozenset()  # targets whose injection fails
    failing_recoveries: int = 0  # recover calls that fail (per target) before one succeeds
    seen_on_recover: list[str] = field(default_factory=list)  # the record's state in status when recover began
    calls: list[tuple[float, str, str]] = field(default_factory=list)  # (time, apply|recover, target)
    status: Callable[[], ExperimentStatus] | None = None  # the status written last, when a test looks at it
    lose_at: dict[str, float] = field(default_factory=dict)  # target -> virtual time its helper pod vanishes

    async def apply(self, ctx: FaultContext, record: Injection) -> dict[str, Any]:
        if self.apply_s:
            await self.clock.sleep(self.apply_s)
        self.calls.append((self.clock.t, "apply", record.target))
        if self.refuse or record.target in self.refuse_targets:
            raise FaultError("refused by the test")
        return {"message": "injected by the test"}

    async def verify(self, ctx: FaultContext, record: Injection) -> bool:
        return self.clock.t >= self.whole_after

    async def recover(self, ctx: FaultContext, record: Injection) -> dict[str, Any] | None:
        if self.status is not None:
            self.seen_on_recover.append(next(r.state for r in self.status().injections if r.uid == record.uid))
        if sum(1 for _, call, target in self.calls if call == "recover-failed" and target == record.target) < \
                self.failing_recoveries:
            self.calls.append((self.clock.t, "recover-failed", record.target))
            raise FaultError("tc: busy (the test)")
        if self.recover_s:
            await self.clock.sleep(self.recover_s)
        self.calls.append((self.clock.t, "recover", record.target))
        return None

    def repeat_interval(self, ctx: FaultContext) -> float | None:
        return self.interval

    def helpers(self) -> HelperWatch | None:
        return self if self.lose_at else None  # helper pods only when a test loses one

    async def helper_lost(self, ctx: FaultContext, record: Injection) -> tuple[str, bool] | None:
        lost = self.clock.t >= self.lose_at.get(record.target, float("inf"))
        return (f"helper of {record.target} disappeared", False) if lost else None

    async def revert_lost(self, ctx: FaultContext, record: Injection) -> str:
        self.calls.append((self.clock.t, "recover", record.target))
        return "reverted by a revert-only helper"

    def live(self) -> set[str]:
        """Targets applied and not recovered since."""
        live: set[str] = set()
        for _, call, target in self.calls:
            if call == "apply":
                live.add(target)
            elif call == "recover":
                live.discard(target)
        return live


class FakeMetrics:
    """A Prometheus that answers every query with ``values`` (a list per call, or an error)."""

    def __init__(self, answer: Callable[[str, datetime.datetime], Awaitable[list[float]]]) -> None:
        self._answer = answer

    async def instant(self, query: str, at: datetime.datetime) -> list[float]:
        return await self._answer(query, at)
