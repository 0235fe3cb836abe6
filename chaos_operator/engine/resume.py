"""A daemon that finds a run under way picks it up (docs/architecture.md, "A run survives the operator").

With load workers nothing measured lived in the dead daemon: status places each phase in the workers' data
(`status.loadSpans`, written as each phase begins and ends), so the phases already measured are cut again, the
phase under way goes on to its planned end, and the run ends with a verdict from all its data. The one phase
that cannot go on is Chaos: nobody watched the fault while no operator ran, so the window ends at the pick-up
(every live fault reverted) and what held is claimed only as far as it can be shown (`_held`). Where the data
itself is gone (the Job deleted, the pods ended), or the load was the operator's own, the run ends `Failed`
with reason `OperatorRestarted`: no automation can take it for a finished measurement.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from chaos_operator.analysis import held
from chaos_operator.engine.chaos_window import WindowEnd
from chaos_operator.engine.deps import Deps
from chaos_operator.engine.recover import fault_context, recover_records
from chaos_operator.engine.run import ChaosResult, Early, Ending, Picked, Prepared, Recovered, RunFigures
from chaos_operator.engine.timeline import PhaseName, Recording
from chaos_operator.faults.base import FaultContext, HelperWatch
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import ExperimentStatus, Injection, LoadSpan, Phase, PhaseResult
from chaos_operator.models.timestamps import format_time, parse_time
from chaos_operator.ports import ExperimentRef, LoadResult

if TYPE_CHECKING:
    from chaos_operator.engine.runner import Runner

log = logging.getLogger(__name__)
RESTARTED = "OperatorRestarted"
# A run's load workers are gone this long after it ended: their schedule, their linger and the Job's deadline.
WORKERS_OUTLIVE_S = 4 * 3600.0


async def leftover_workers(deps: Deps, ref: ExperimentRef, spec: ExperimentSpec, status: ExperimentStatus) -> None:
    """A run deletes its workers after writing its end, so an operator killed in between leaves them sending for
    a run that is over: the next one deletes them (each call bounded; a run that ended long ago is left alone)."""
    if deps.discard_load is None or status.load_spans is None or status.finished_at is None:
        return
    if (deps.clock.now() - parse_time(status.finished_at)).total_seconds() <= WORKERS_OUTLIVE_S:
        await deps.discard_load(spec, ref)


async def lost(runner: Runner, why: str) -> Ending:
    """The figures of the phase under way are gone: recover every live fault and end without a verdict."""
    phase = runner.recorder.status.phase
    if runner.deps.discard_load is not None:  # workers a previous daemon left, still sending
        await runner.deps.discard_load(runner.spec, runner.recorder.ref)
    await recover_records(runner.deps, runner.spec, runner.recorder)
    return Ending(Phase.FAILED, None, RESTARTED, f"the operator restarted during {phase} and {why}; faults were "
                                                 "recovered and the run has no verdict")


async def from_status(runner: Runner) -> Ending:
    """Every figure is in status (the in-process load's run, or workers whose data is gone): finish the analysis."""
    if runner.deps.discard_load is not None:
        await runner.deps.discard_load(runner.spec, runner.recorder.ref)
    return await runner.analyze(RunFigures.from_status(runner.recorder.status, runner.halt_names()))


async def pick_up(runner: Runner) -> Early:
    status, ref = runner.recorder.status, runner.recorder.ref
    adopt = runner.deps.adopt_load
    load = None if adopt is None else await adopt(runner.spec, ref)
    if load is None:
        if status.phase == Phase.BASELINE:
            return await runner.run_from_start()  # nothing injected yet: start over with new workers
        if status.phase == Phase.ANALYZING:
            return await from_status(runner)
        return await lost(runner, "the load workers' data is gone (their Job or pods were deleted)")
    runner.load = recording = Recording(load)
    await runner.recorder.event("Resumed", f"the run was picked up in {status.phase} from the load workers' data")
    spans = status.load_spans
    assert spans is not None and spans.baseline is not None  # lifecycle.spans_reach
    prepared = Prepared(list(status.targets), status.seed or 0, status.ready_before or 0)
    if status.phases.baseline is None:
        return _said(await runner.measure_run(prepared, begun=spans.baseline.start))
    baseline = await _recut(recording, "baseline", spans.baseline, status.phases.baseline)
    if spans.chaos is None:  # between the phases
        return _said(await runner.measure_run(prepared, baseline=baseline))
    if status.phases.chaos is None:
        if spans.chaos.split is None:
            # It died before the fault was known to hold (injecting, or before writing the split): whatever it
            # started is recovered and the window starts over; the seconds since its start belong to no phase.
            await recover_records(runner.deps, runner.spec, runner.recorder)
            await runner.recorder.event("ChaosRestarted", "the fault had not taken hold when the operator "
                                        "restarted: recovered, and the chaos window starts over")
            chaos = await runner.chaos(prepared)
        else:  # the window goes on to its planned end
            chaos = await runner.chaos(prepared, await _picked(runner, spans.chaos))
        if not isinstance(chaos, ChaosResult):
            return chaos
    else:
        chaos = await _recut_chaos(runner, recording, spans.chaos, status.phases.chaos)
    if status.phases.recovery is None:
        recovered = await runner.recovery(baseline, chaos, None if spans.recovery is None else spans.recovery.start)
        if not isinstance(recovered, Recovered):
            return recovered
    else:
        assert spans.recovery is not None
        again = await _recut(recording, "recovery", spans.recovery, status.phases.recovery)
        recovered = Recovered(again, None if status.recovery_time is None else float(status.recovery_time))
    return _said(await runner.analyze(RunFigures.measured(baseline, chaos, recovered)))


def _said(early: Early) -> Early:
    if isinstance(early, Ending) and early.phase == Phase.COMPLETED:
        return replace(early, message=f"{early.message} (picked up from the load workers' data after an operator "
                                      "restart)")
    return early


async def _recut(recording: Recording, name: PhaseName, span: LoadSpan, recorded: PhaseResult) -> LoadResult:
    """A phase an earlier daemon measured: its seconds cut again, its figures as status recorded them."""
    return replace(await recording.recut(name, span), result=recorded)


async def _recut_chaos(runner: Runner, recording: Recording, span: LoadSpan, recorded: PhaseResult) -> ChaosResult:
    again = replace(await recording.recut("chaos", span), result=recorded)
    fh = recorded.fault_held
    until = None if fh is None or span.split is None else _mono(runner, span.split + fh.seconds)
    seen = _window(runner, span, (fh.held_on, fh.targets) if fh else (0, 0), None if fh is None else fh.observed)
    halts = RunFigures.from_status(runner.recorder.status, runner.halt_names()).halts
    return ChaosResult(again, seen, halts, until)


async def _picked(runner: Runner, span: LoadSpan) -> Picked:
    """The chaos window an earlier daemon opened, with what can be shown to have held while no operator ran."""
    assert span.split is not None
    losses = await _held(runner, span.split)
    injected = [r for r in runner.recorder.status.injections if r.injected_at is not None]
    return Picked(span.start, span.split, (len(injected) - len(losses), len(injected)), _last_injection(runner),
                  losses, _whole(runner, span))


async def _held(runner: Runner, split: float) -> tuple[held.Loss, ...]:
    """Targets whose fault cannot be shown to have held while no operator watched. A kill holds once done. A
    helper holds its fault for as long as it runs (docs/architecture.md), so a helper still there now held it
    throughout; one that is not may have ended at any instant since the split, so it counts as lost there."""
    watch = runner.fault.helpers()
    if runner.fault.instant:
        return ()
    ctx = fault_context(runner.deps, runner.spec, runner.recorder.ref, runner.recorder.status.ready_before or 0)
    at = format_time(datetime.datetime.fromtimestamp(split, datetime.UTC))
    losses: list[held.Loss] = []
    for record in runner.recorder.status.injections:
        if record.injected_at is None:
            continue
        gone = True if watch is None else await _lost(runner, watch, ctx, record)
        if gone:
            losses.append(held.Loss(f"{record.target} (unwatched: counted as lost from when it took hold)",
                                    _mono(runner, split), at))
    return tuple(losses)


async def _lost(runner: Runner, watch: HelperWatch, ctx: FaultContext, record: Injection) -> bool:
    try:
        return await watch.helper_lost(ctx, record) is not None
    except Exception as exc:  # unreadable: it cannot be shown to hold
        log.warning("%s: could not tell whether %s still holds: %r", runner.recorder.ref.name, record.target, exc)
        return True


def _window(runner: Runner, span: LoadSpan, first_round: tuple[int, int], observed: str | None) -> WindowEnd:
    """A closed window, as the recovery phase needs it. The workload is watched again unless the earlier daemon saw
    it whole: if it came back while no operator watched, its part of the recovery time is an upper bound."""
    injected = [r for r in runner.recorder.status.injections if r.injected_at is not None]
    whole = _whole(runner, span)
    watched = injected[-1] if runner.fault.instant and injected and whole is None else None
    return WindowEnd(_last_injection(runner), whole, watched, (), first_round, observed)


def _whole(runner: Runner, span: LoadSpan) -> float | None:
    """When the earlier daemon saw the workload whole, if after the last injection (an older note is stale)."""
    last = _last_injection(runner)
    whole = None if span.whole is None else _mono(runner, span.whole)
    return whole if whole is not None and (last is None or whole >= last - 0.5) else None


def _last_injection(runner: Runner) -> float | None:
    stamps = [r.injected_at for r in runner.recorder.status.injections if r.injected_at is not None]
    return _mono(runner, _unix(max(stamps))) if stamps else None


def _unix(stamp: str) -> float:
    return parse_time(stamp).timestamp() + 0.5  # records carry whole seconds: the middle of that second


def _mono(runner: Runner, unix_s: float) -> float:
    """An instant on the wall clock, on this daemon's Clock.monotonic()."""
    return runner.clock.monotonic() - (runner.clock.now().timestamp() - unix_s)
