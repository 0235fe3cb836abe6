"""A run picked up by the next daemon (engine/resume.py), on a virtual clock: the first daemon is cancelled (a crash:
nothing of it runs but its `finally`) or stopped at an instant of each phase, the load's data outlives it (a fake of
the load workers), and the second daemon finishes the run from the status the first one left."""

from __future__ import annotations

import asyncio
import datetime
from dataclasses import dataclass, field
from typing import Any

from chaos_operator.analysis.buckets import bucket_of
from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.engine import resume
from chaos_operator.engine.deps import Control, Deps
from chaos_operator.engine.recorder import Recorder
from chaos_operator.engine.runner import Runner
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import ExperimentStatus, LoadSpan
from chaos_operator.ports import ExperimentRef, LoadResult
from tests.unit.engine.fakes import FakeLoad, Health
from tests.unit.engine.world import BASELINE, CHAOS_END, CHAOS_START, RECOVERY, World, make_spec

REF = ExperimentRef("shop", "exp", "exp-uid")


@dataclass
class FakeWorkers(FakeLoad):
    """Load whose data outlives the daemon: every phase is cut from its span, whoever measured it."""

    start_at: float | None = None  # unix seconds: the first phase's start
    detached: int = 0
    cuts: list[LoadSpan] = field(default_factory=list)

    def _unix(self) -> float:
        return self.clock.now().timestamp()

    def _mono(self, unix_s: float) -> float:
        return self.clock.monotonic() - (self._unix() - unix_s)

    def phase_start(self) -> float:
        if self.start_at is None:
            self.start_at = self._unix()
        return max(self._unix(), self.start_at)

    async def run_phase(self, duration_s: float, stop: Any, split: Any = None) -> LoadResult:
        return await self.run_phase_from(self.phase_start(), duration_s, stop, split)

    async def run_phase_from(self, begun: float, duration_s: float, stop: Any, split: Any = None) -> LoadResult:
        if begun > self._unix():
            await self.clock.sleep(begun - self._unix())
        split_at: list[float] = [split] if isinstance(split, float) else []

        async def note() -> None:
            await split.wait()
            split_at.append(self._unix())
        watcher = asyncio.ensure_future(note()) if isinstance(split, asyncio.Event) else None
        try:
            await self.clock.wait_for(stop, max(0.0, begun + duration_s - self._unix()))
        finally:
            if watcher is not None:
                watcher.cancel()
        end = max(begun, min(self._unix(), begun + duration_s))
        return await self.recut(LoadSpan(start=begun, end=end, split=split_at[0] if split_at else None))

    async def recut(self, span: LoadSpan) -> LoadResult:
        self.cuts.append(span)
        end = span.end if span.end is not None else span.start
        started = self._mono(span.start)
        self.phases_run.append((started, self._mono(end)))
        health = Health()
        seconds = end - span.start
        samples = [SecondSample(offset_s=float(s), requests=self.rate, errors=0, p95_s=health.latency_s,
                                latency_count=self.rate, latency_sum_s=health.latency_s * self.rate,
                                histogram=((bucket_of(health.latency_s), self.rate),)) for s in range(int(seconds))]
        wall = datetime.datetime.fromtimestamp(span.start, datetime.UTC)
        if span.split is None:
            return LoadResult(self._result(health, wall, seconds), started, samples, span=span)
        ramp_s = span.split - span.start
        result = self._result(health, wall + datetime.timedelta(seconds=ramp_s), end - span.split)
        return LoadResult(result, started, samples, split_offset_s=ramp_s, span=span)

    async def detach(self) -> None:
        self.detached += 1


class Daemons:
    """Two daemons of one run: the first ended at ``at`` (cancelled, or stopped through its Control)."""

    def __init__(self, world: World, gone: bool = False, kill: bool = True) -> None:
        self.world, self.gone = world, gone
        world.fault.instant = kill  # a kill holds once done; otherwise helper pods hold the fault (helpers())
        self.load = FakeWorkers(world.clock)
        self.stopping = False

    async def _open(self, spec: ExperimentSpec, experiment: ExperimentRef) -> FakeWorkers:
        return self.load

    async def _adopt(self, spec: ExperimentSpec, experiment: ExperimentRef) -> FakeWorkers | None:
        return None if self.gone else self.load

    def runner(self, spec: ExperimentSpec) -> Runner:
        world = self.world
        deps = Deps(kube=world.kube, clock=world.clock, open_load=self._open,  # type: ignore[arg-type]
                    adopt_load=self._adopt, operator_namespace="chaos-system",
                    fault_for=lambda kind: world.fault, gates=world.gates)
        status = world.kube.status if world.kube.writes else ExperimentStatus()
        recorder = Recorder(world.kube, world.clock, REF, status)  # type: ignore[arg-type]
        return Runner(deps, spec, recorder, Control(abort_requested=lambda: False, stopping=lambda: self.stopping))

    async def _first(self, spec: ExperimentSpec, at: float, crash: bool) -> None:
        task = asyncio.ensure_future(self.runner(spec).run())
        await self.world.clock.sleep(at)
        if crash:
            task.cancel()
        else:
            self.stopping = True
        await asyncio.gather(task, return_exceptions=True)
        self.stopping = False

    async def run(self, at: float, crash: bool = True, down: float = 0.0) -> ExperimentStatus:
        """The first daemon ends at ``at``; ``down`` seconds later the second one starts."""
        spec = make_spec()
        await self.world.clock.drive(self._first(spec, at, crash))
        if down:
            await self.world.clock.drive(self.world.clock.sleep(down))
        await self.world.clock.drive(self.runner(spec).run())
        return self.world.kube.status


def _spans(status: ExperimentStatus) -> dict[str, tuple[float, float | None]]:
    assert status.load_spans is not None
    t0 = status.load_spans.baseline.start if status.load_spans.baseline else 0.0
    return {name: (round(span.start - t0, 3), None if span.end is None else round(span.end - t0, 3))
            for name in ("baseline", "chaos", "recovery") if (span := getattr(status.load_spans, name))}


async def test_a_run_crashed_mid_chaos_goes_on_to_its_planned_end_under_the_next_daemon() -> None:
    world = World()
    daemons = Daemons(world)
    status = await daemons.run(at=CHAOS_START + 5)
    assert (status.phase, status.verdict, status.reason) == ("Completed", "Passed", "SLOsHeld")
    assert "picked up" in (status.message or "")
    # Injected once, by the first daemon; reverted at the window's planned end, by the second.
    assert world.calls("apply") == [CHAOS_START] * 3 and world.calls("recover") == [CHAOS_END] * 3
    assert _spans(status) == {"baseline": (0.0, BASELINE), "chaos": (CHAOS_START, CHAOS_END),
                              "recovery": (CHAOS_END, CHAOS_END + RECOVERY)}
    held = status.phases.chaos.fault_held if status.phases.chaos else None
    assert held is not None and held.seconds == CHAOS_END - CHAOS_START and held.lost is None
    assert status.timeline is not None and [w.phase for w in status.timeline.windows] == [
        "baseline", "chaos", "recovery"]
    assert daemons.load.detached == 1 and daemons.load.closed  # the first let go; the run's end deleted it
    # The first daemon saw the workload whole at once and wrote when: the recovery time is that, not the pick-up.
    assert status.load_spans is not None and status.load_spans.chaos is not None
    assert status.load_spans.chaos.whole == status.load_spans.chaos.split
    assert status.recovery_time is not None and float(status.recovery_time) == 0.0


async def test_a_crash_in_each_other_phase_is_picked_up_where_it_stood() -> None:
    for at in (BASELINE / 2, CHAOS_END + RECOVERY / 2):
        world = World()
        status = await Daemons(world).run(at=at)
        assert (status.phase, status.verdict) == ("Completed", "Passed"), at
        assert _spans(status) == {"baseline": (0.0, BASELINE), "chaos": (CHAOS_START, CHAOS_END),
                                  "recovery": (CHAOS_END, CHAOS_END + RECOVERY)}, at
        assert world.calls("apply") == [CHAOS_START] * 3 and world.calls("recover") == [CHAOS_END] * 3, at


async def test_a_graceful_stop_in_recovery_records_nothing_and_the_next_daemon_measures_the_rest() -> None:
    world = World()
    daemons = Daemons(world)
    status = await daemons.run(at=CHAOS_END + RECOVERY / 2, crash=False)
    assert (status.phase, status.verdict) == ("Completed", "Passed")
    assert _spans(status)["recovery"] == (CHAOS_END, CHAOS_END + RECOVERY)
    assert daemons.load.detached == 1


async def test_workers_gone_end_the_run_failed_with_every_fault_recovered() -> None:
    world = World()
    status = await Daemons(world, gone=True).run(at=CHAOS_START + 5)
    assert (status.phase, status.verdict, status.reason) == ("Failed", None, "OperatorRestarted")
    assert "data is gone" in (status.message or "")
    assert world.fault.live() == set() and all(r.state == "Recovered" for r in status.injections)


async def test_a_helper_fault_that_still_holds_goes_on() -> None:
    world = World()
    world.fault.lose_at = {"checkout-0": 1e9}  # helper pods that are never lost
    status = await Daemons(world, kill=False).run(at=CHAOS_START + 5, down=2.0)
    assert (status.phase, status.verdict) == ("Completed", "Passed")
    held = status.phases.chaos.fault_held if status.phases.chaos else None
    assert held is not None and held.seconds == CHAOS_END - CHAOS_START and held.lost is None
    assert world.calls("recover") == [CHAOS_END] * 3


async def test_a_crash_before_the_fault_held_starts_the_window_over() -> None:
    world = World()
    world.fault.apply_s = 2.0  # helper pods starting: the records stay Pending meanwhile
    status = await Daemons(world).run(at=CHAOS_START + 1)
    assert (status.phase, status.verdict) == ("Completed", "Passed"), status.message
    restart = CHAOS_START + 1
    # The first daemon's round never completed; the second recovered it and injected a round of its own.
    assert world.calls("apply") == [restart + 2.0] * 3 and world.fault.live() == set()
    assert _spans(status)["chaos"] == (restart, restart + CHAOS_END - CHAOS_START)
    held = status.phases.chaos.fault_held if status.phases.chaos else None
    assert held is not None and held.seconds == CHAOS_END - CHAOS_START - 2.0


async def test_a_helper_lost_while_no_daemon_ran_is_not_claimed() -> None:
    world = World()
    world.fault.lose_at = {"checkout-0": CHAOS_START + 6}  # after the crash, before the next daemon comes
    status = await Daemons(world, kill=False).run(at=CHAOS_START + 5, down=2.0)
    held = status.phases.chaos.fault_held if status.phases.chaos else None
    assert held is not None and held.seconds == 0 and held.lost and "unwatched" in held.lost
    assert (status.phase, status.verdict, status.reason) == ("Completed", "Inconclusive", "FaultNotHeld")
    assert world.fault.live() == set()


async def test_workers_a_run_left_when_its_operator_died_after_its_end_are_deleted() -> None:
    """The end is written before the workers are deleted: a kill in between leaves them, the next daemon deletes
    them; a run that ended hours ago is left alone (its workers are long gone)."""
    world = World()
    discarded: list[str] = []

    async def discard(spec: ExperimentSpec, experiment: ExperimentRef) -> None:
        discarded.append(experiment.uid)
    deps = Deps(kube=world.kube, clock=world.clock, open_load=None,  # type: ignore[arg-type]
                discard_load=discard, operator_namespace="chaos-system")
    spans = {"baseline": {"start": 1.0, "end": 2.0}}
    ended = ExperimentStatus.model_validate({"phase": "Completed", "loadSpans": spans,
                                             "finishedAt": "2026-01-01T00:00:00Z"})
    await resume.leftover_workers(deps, REF, make_spec(), ended)
    assert discarded == [REF.uid]
    await resume.leftover_workers(deps, REF, make_spec(), ended.model_copy(update={"load_spans": None}))
    world.clock.t += resume.WORKERS_OUTLIVE_S + 1
    await resume.leftover_workers(deps, REF, make_spec(), ended)
    assert discarded == [REF.uid]  # in-process, or long ago: nothing to delete
