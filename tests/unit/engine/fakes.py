"""A virtual clock, an in-memory cluster, a scripted load and a recording fault: the runner's ports, faked, so
every decision of the runner runs in milliseconds of real time."""

from __future__ import annotations

import asyncio
import datetime
import heapq
import itertools
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chaos_operator.analysis.buckets import bucket_of
from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.faults.base import FaultContext, FaultError, HelperWatch
from chaos_operator.models.duration import Duration
from chaos_operator.models.status import ExperimentStatus, Injection, Latency, PhaseResult, Ramp
from chaos_operator.models.timestamps import format_time
from chaos_operator.ports import ExperimentRef, LoadResult

T = TypeVar("T")
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
SETTLE_ROUNDS = 40  # loop turns that let every runnable task reach its next wait before time moves


class FakeClock:
    """Virtual time: it moves only when every task waits, straight to the next sleeper's deadline."""

    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime.datetime:
        return EPOCH + datetime.timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(0.0, seconds), next(self._seq), future))
        await future

    async def wait_for(self, event: asyncio.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        waiter = asyncio.ensure_future(event.wait())
        await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, waiter):
            task.cancel()
        return event.is_set()

    def at(self, when: float, action: Callable[[], object]) -> None:
        """Run ``action`` at virtual time ``when``."""
        async def later() -> None:
            await self.sleep(when - self.t)
            action()
        asyncio.ensure_future(later())

    async def drive(self, work: Coroutine[Any, Any, T], limit_s: float = 100_000.0) -> T:
        task = asyncio.ensure_future(work)
        while True:
            for _ in range(SETTLE_ROUNDS):
                await asyncio.sleep(0)
            if task.done():
                return task.result()
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # cancelled waits
            if not self._sleepers:
                task.cancel()
                raise AssertionError("the run waits for something no clock will bring")
            deadline = self._sleepers[0][0]
            if deadline > limit_s:
                task.cancel()
                raise AssertionError(f"the run is still going at {deadline:g} s of virtual time")
            self.t = max(self.t, deadline)
            while self._sleepers and self._sleepers[0][0] <= self.t:
                future = heapq.heappop(self._sleepers)[2]
                if not future.done():
                    future.set_result(None)


def pod(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "shop", "uid": f"uid-{name}",
                         "labels": dict(labels or {"app": "checkout"})},
            "spec": {"nodeName": "node-a"},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]}}


class FakeKube:
    """Pods to select from; every status write and Event kept in order, each with the virtual time it came at."""

    def __init__(self, clock: FakeClock, pods: int = 3) -> None:
        self.clock = clock
        self.pods = [pod(f"checkout-{i}") for i in range(pods)]
        self.writes: list[tuple[float, dict[str, Any]]] = []
        self.events: list[tuple[float, str]] = []
        self.fail_listing: Exception | None = None

    async def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        if self.fail_listing is not None:
            raise self.fail_listing
        return list(self.pods)

    async def patch_experiment_status(self, namespace: str, name: str, status: Mapping[str, Any],
                                      resource_version: str | None = None) -> str | None:
        self.writes.append((self.clock.t, dict(status)))
        return str(len(self.writes))

    async def create_event(self, ref: ExperimentRef, type_: str, reason: str, message: str,
                           time: datetime.datetime) -> None:
        self.events.append((self.clock.t, reason))

    @property
    def status(self) -> ExperimentStatus:
        return ExperimentStatus.model_validate(self.writes[-1][1])

    def phases(self) -> list[str]:
        """Phases in the order they were written (repeats dropped)."""
        seen: list[str] = []
        for _, status in self.writes:
            if not seen or seen[-1] != status["phase"]:
                seen.append(status["phase"])
        return seen

    def reasons(self) -> list[str]:
        return [reason for _, reason in self.events]


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
    calls: list[tuple[float, str, str]] = field(default_factory=list)  # (time, apply|recover, target)

    async def apply(self, ctx: FaultContext, record: Injection) -> dict[str, Any]:
        if self.apply_s:
            await self.clock.sleep(self.apply_s)
        self.calls.append((self.clock.t, "apply", record.target))
        if self.refuse:
            raise FaultError("refused by the test")
        return {"message": "injected by the test"}

    async def verify(self, ctx: FaultContext, record: Injection) -> bool:
        return True

    async def recover(self, ctx: FaultContext, record: Injection) -> dict[str, Any] | None:
        self.calls.append((self.clock.t, "recover", record.target))
        return None

    def repeat_interval(self, ctx: FaultContext) -> float | None:
        return self.interval

    def helpers(self) -> HelperWatch | None:
        return None  # no helper pods to lose

    def live(self) -> set[str]:
        """Targets applied and not recovered since."""
        live: set[str] = set()
        for _, call, target in self.calls:
            (live.add if call == "apply" else live.discard)(target)
        return live


class FakeMetrics:
    """A Prometheus that answers every query with ``values`` (a list per call, or an error)."""

    def __init__(self, answer: Callable[[str, datetime.datetime], Awaitable[list[float]]]) -> None:
        self._answer = answer

    async def instant(self, query: str, at: datetime.datetime) -> list[float]:
        return await self._answer(query, at)
