"""Drives one experiment through its phases using only the ports (docs/architecture.md, "One experiment, end to end").

Each phase returns its immutable result to the next, or an `Early` ending (engine/run.py); analysis takes the
`RunFigures` they add up to, and the Recorder writes `.status` as their projection.
"""

from __future__ import annotations

import asyncio
import logging

from chaos_operator.analysis import coverage
from chaos_operator.analysis.records import weigh
from chaos_operator.engine import analyze, gating, halt, lifecycle, prom, resume, rounds, timeline
from chaos_operator.engine.chaos_window import ChaosWindow, result_or_cancel, until_whole
from chaos_operator.engine.deps import Control, Deps, LoadTargetNotFound
from chaos_operator.engine.prom import PromChecks
from chaos_operator.engine.recorder import Recorder, UnreadableStatus
from chaos_operator.engine.recover import fault_context, recover_records
from chaos_operator.engine.run import (
    STOPPED,
    ChaosResult,
    Early,
    Ending,
    Picked,
    Prepared,
    Recovered,
    RunFigures,
    hold,
)
from chaos_operator.engine.targets import resolve
from chaos_operator.engine.timeline import PhaseName, Recording
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import TERMINAL_PHASES, LoadSpan, Phase, clip
from chaos_operator.ports import LoadResult
from chaos_operator.targeting.selection import NoTargets, new_seed

log = logging.getLogger(__name__)
CONTROL_POLL_S = 0.2  # how often spec.abort and the daemon's stop flag are looked at


def _failed(reason: str, message: str) -> Ending:
    return Ending(Phase.FAILED, None, reason, message)


class Runner:
    def __init__(self, deps: Deps, spec: ExperimentSpec, recorder: Recorder, control: Control) -> None:
        self.deps = deps
        self.clock = deps.clock
        self.spec = spec
        self.recorder = recorder
        self.control = control
        self.stop = asyncio.Event()
        # Why it was asked to end, as seen then: withdrawn while reverting, the request still ends the run.
        self.asked: tuple[str, str] | None = None
        self.fault = deps.fault_for(spec.fault.kind)
        self.load: Recording | None = None
        self.ended = False  # _end wrote a terminal phase
        self.prom: PromChecks | None = None
        if spec.prometheus is not None and deps.open_metrics is not None:
            self.prom = PromChecks(deps.open_metrics(spec.prometheus.url), deps.clock, spec.prometheus,
                                   recorder.ref.namespace, recorder.ref.name)

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch_control())
        try:
            decision = lifecycle.resume(self.recorder.status, self.deps.adopt_load is not None)
            log.info("%s: %s (%s)", self.recorder.ref.name, decision.action.value, decision.why)
            early: Early | None = None
            if decision.action is lifecycle.Resume.CONTINUE:
                early = await resume.pick_up(self)
            elif decision.action is lifecycle.Resume.LOST:
                early = await resume.lost(self, "the figures of that phase were in its memory")
            elif decision.action is lifecycle.Resume.ANALYZE:
                early = await resume.from_status(self)
            elif decision.action is lifecycle.Resume.START:
                early = await self.run_from_start()
            if isinstance(early, Ending):
                await self._end(early)
        except UnreadableStatus:
            self.stop.set()  # failclosed.guarded takes over: writing on would guess over a status it cannot read
            self.ended = True  # and ends the run: nothing to leave for a next daemon
            raise
        except Exception as exc:
            # A bug or an API outage: never leave a fault behind, and never re-run the experiment.
            log.exception("%s: unexpected error", self.recorder.ref.name)
            self.stop.set()
            self.ended = True  # ended here, or by another writer meanwhile
            await recover_records(self.deps, self.spec, self.recorder)
            if self.recorder.status.phase not in TERMINAL_PHASES:  # another writer may have ended it meanwhile
                await self._end(_failed("OperatorError", clip(f"the operator hit an error: {exc}")))
        finally:
            watcher.cancel()
            if self.load is not None:  # a daemon that stops (or is cancelled) leaves load workers to the next one
                await self.load.close(keep=not self.ended)

    async def _watch_control(self) -> None:
        while not self.stop.is_set():
            asked = gating.abort_reason(self.control.abort_requested(), self.deps.gates, self.recorder.status.phase)
            if asked is not None or self.control.stopping():
                self.asked = asked
                self.stop.set()
                return
            await self.clock.sleep(CONTROL_POLL_S)

    async def _end(self, ending: Ending) -> None:
        self.ended = True
        records = self.recorder.status.injections
        # Last, the records: a fault not known to be reverted, or on part of its targets, limits what may be claimed.
        said = weigh(ending.phase, ending.verdict, ending.reason, ending.message, records)
        await self.recorder.finish(ending.phase, said.verdict, said.reason, said.message, checks=ending.checks,
                                   score=ending.score, grade=ending.grade, analysis=ending.analysis,
                                   timeline=timeline.build_for(self.load, records, self.clock))
        event = {Phase.COMPLETED: "Completed", Phase.ABORTED: "Aborted"}.get(ending.phase, "Failed")
        warn = ending.phase != Phase.COMPLETED or said.verdict != ending.verdict
        await self.recorder.event(event, said.message, warning=warn)

    async def check_stop(self) -> Early | None:
        """After a phase step: abort ends the experiment; a daemon stop leaves it to resume logic."""
        if not self.stop.is_set():
            return None
        phase = self.recorder.status.phase
        if why := self.asked or gating.abort_reason(self.control.abort_requested(), self.deps.gates, phase):
            return Ending(Phase.ABORTED, None, *why)
        return STOPPED  # operator stopping or resource deleting: the finalizer/restart path finishes it

    async def run_from_start(self) -> Early:
        prepared = await self._prepare()
        if not isinstance(prepared, Prepared):
            return prepared
        return await self.measure_run(prepared)

    async def measure_run(self, prepared: Prepared, begun: float | None = None,
                          baseline: LoadResult | None = None) -> Early:
        """The phases from the baseline on (from ``begun``, or after ``baseline``, when a resume picks it up)."""
        if baseline is None:
            measured = await self._baseline(begun)
            if not isinstance(measured, LoadResult):
                return measured
            baseline = measured
        chaos = await self.chaos(prepared)
        if not isinstance(chaos, ChaosResult):
            return chaos
        recovered = await self.recovery(baseline, chaos)
        if not isinstance(recovered, Recovered):
            return recovered
        return await self.analyze(RunFigures.measured(baseline, chaos, recovered))

    async def _prepare(self) -> Prepared | Early:
        ns = self.recorder.ref.namespace
        # A restart from Baseline lands here too: nothing was injected, so start the figures afresh.
        await self.recorder.begin("resolving targets and load")
        await self.recorder.event("Started", f"{self.spec.fault.kind} experiment started")
        if gate := await gating.refusal(self.deps.kube, ns, self.deps.gates, self.deps.operator_namespace,
                                       self.deps.allowed_namespaces, self.deps.protected_namespaces,
                                       self.spec.fault.kind):
            return _failed(*gate)
        if self.spec.prometheus is not None and (refused := await prom.refusal(self.prom, self.clock)):
            return _failed(*refused)
        try:
            self.load = Recording(await self.deps.open_load(self.spec, self.recorder.ref))
        except LoadTargetNotFound as exc:  # or LoadTargetRefused
            return _failed(exc.reason, str(exc))
        seed = self.recorder.status.seed if self.recorder.status.seed is not None else self.spec.target.seed
        seed = seed if seed is not None else new_seed()
        try:
            found = await resolve(self.deps.kube, ns, self.spec.target, seed, self.deps.operator_pods)
        except NoTargets as exc:
            return _failed("NoTargets", str(exc))
        # Write-ahead: targets are in status before anything is touched.
        await self.recorder.select_targets(found.targets, seed, found.ready_matching)
        await self.recorder.event("TargetsSelected", found.summary)
        if self.spec.dry_run:
            return Ending(Phase.COMPLETED, None, "DryRun",
                          f"dry run: {found.summary}; nothing was injected and no load was sent")
        return Prepared(found.targets, seed, found.ready_matching)

    async def _measure(self, phase: PhaseName, seconds: float, stop: asyncio.Event | None = None,
                       split: asyncio.Event | float | None = None, begun: float | None = None) -> LoadResult:
        assert self.load is not None
        return await self.load.measure(phase, seconds, stop or self.stop, split, begun)

    async def _enter(self, phase: Phase, message: str) -> float | None:
        """Enter the phase; with load workers its start is written with it (where a resume picks it up)."""
        load = None if self.load is None else self.load.resumable
        begun = None if load is None else load.phase_start()
        await self.recorder.enter(phase, message, None if begun is None else LoadSpan(start=begun))
        return begun

    async def _baseline(self, begun: float | None = None) -> LoadResult | Early:
        if begun is None:
            begun = await self._enter(Phase.BASELINE, "measuring the baseline")
        result = await self._measure("baseline", self.spec.phases.baseline, begun=begun)
        early = await self.check_stop()
        if early is STOPPED:  # not recorded: the next daemon measures what is left of the phase
            return early
        await self.recorder.record_phase("baseline", result.result, result.span)
        if early is not None:
            return early
        gate = coverage.baseline_gate(self.spec.slos, result.result)
        if gate is not None:
            return Ending(Phase.COMPLETED, gate.verdict, gate.reason, gate.message, checks=gate.checks)
        return result

    async def chaos(self, prepared: Prepared, picked: Picked | None = None) -> ChaosResult | Early:
        """The chaos window, or what is left of one an earlier daemon opened (``picked``)."""
        # The chaos window ends early on abort/stop, or on a halt condition (which still measures recovery).
        chaos_end = asyncio.Event()
        ctx = fault_context(self.deps, self.spec, self.recorder.ref, prepared.ready_before)
        window = ChaosWindow(self.recorder, self.fault, ctx, chaos_end, self.deps.poll_s, self.deps.recover_retry_s,
                             self._note_whole)
        if picked is None:
            begun, started = await self._enter(Phase.CHAOS, f"injecting {self.spec.fault.kind}"), self.clock.monotonic()
        else:
            begun, started = picked.start, self.clock.monotonic() - (self.clock.now().timestamp() - picked.start)
        relay = asyncio.create_task(self._relay_stop(chaos_end))
        watch = asyncio.create_task(halt.watch(self.prom, self.clock, chaos_end, self.deps.halt_poll_s))
        # The chaos figures start once every target of the first round holds its fault; before is the ramp.
        in_effect = asyncio.Event()
        load_task = asyncio.create_task(self._measure("chaos", self.spec.phases.chaos, chaos_end,
                                                      in_effect if picked is None else picked.split, begun))
        in_effect_at: float | None = None
        try:
            if picked is not None:
                window.adopt(picked.first_round, picked.last_injection_mono, picked.losses, picked.whole_at_mono)
                in_effect_at = started + (picked.split - picked.start)
            elif await window.inject_round(list(prepared.targets)):
                in_effect.set()
                in_effect_at = self.clock.monotonic()
                await self.recorder.note_span("chaos", split=self.clock.now().timestamp())  # where a resume's start
            elif not chaos_end.is_set():
                chaos_end.set()
                await load_task
                await window.recover_all()
                await window.close()
                return _failed("InjectionFailed", "no target could be injected; see status.injections")
            await rounds.repeat(self.deps, self.spec, self.recorder, window, started, chaos_end, prepared.seed,
                                picked_up=picked is not None)
            result = await load_task
            ended = min(self.clock.monotonic(), started + float(self.spec.phases.chaos))
        except BaseException as exc:
            load_task.cancel()
            if isinstance(exc, Exception):
                await window.close()  # the error path recovers with a window of its own; this one ends here
            raise
        finally:
            relay.cancel()
            breach = watch.result() if watch.done() and not watch.cancelled() and not watch.exception() else None
            watch.cancel()
        await window.recover_all()
        seen = await window.close()
        result, until = hold(result, seen, in_effect_at, ended, float(self.spec.phases.chaos))
        if breach is not None:  # recorded once the faults are reverted: a write that hangs cannot hold them
            await halt.record(self.recorder, breach)
        await self.recorder.record_phase("chaos", result.result, result.span)
        early = await self.check_stop()
        return early if early is not None else ChaosResult(result, seen, () if breach is None else (breach,), until)

    async def _note_whole(self, at_mono: float) -> None:
        """Load workers: when the workload was whole, kept in status for a daemon that picks the run up."""
        await self.recorder.note_span("chaos", whole=self.clock.now().timestamp() - (self.clock.monotonic() - at_mono))

    async def _relay_stop(self, chaos_end: asyncio.Event) -> None:
        await self.stop.wait()
        chaos_end.set()

    async def recovery(self, baseline: LoadResult, chaos: ChaosResult, begun: float | None = None) -> Recovered | Early:
        if begun is None:
            begun = await self._enter(Phase.RECOVERY, "measuring recovery")
        seen = chaos.window
        # The workload may still be coming back: this phase watches it on, with a task of its own.
        whole: asyncio.Task[float] | None = None
        if seen.whole_at_mono is None and seen.watched is not None:
            ctx = fault_context(self.deps, self.spec, self.recorder.ref, self.recorder.status.ready_before or 0)
            whole = asyncio.create_task(until_whole(self.fault, ctx, seen.watched, self.deps.poll_s,
                                                    self._note_whole))
        try:
            result = await self._measure("recovery", self.spec.phases.recovery, begun=begun)
        finally:
            whole_at = seen.whole_at_mono if whole is None else await result_or_cancel(whole)
        seconds = analyze.recovery_seconds(self.spec, baseline.result, chaos.load, result,
                                           seen.last_injection_mono, whole_at, self.fault.instant)
        early = await self.check_stop()
        if early is STOPPED:  # not recorded: the next daemon measures what is left of the phase
            return early
        await self.recorder.record_recovery(result.result, seconds, result.span)
        return early if early is not None else Recovered(result, seconds)

    async def analyze(self, figures: RunFigures) -> Ending:
        await self.recorder.enter(Phase.ANALYZING, "analysing")
        extra = await self.prom.phase_checks(figures) if self.prom is not None else []
        outcome = analyze.final(self.spec, figures, self.fault.instant, extra)
        return Ending(Phase.COMPLETED, outcome.verdict, outcome.reason, outcome.message, checks=outcome.checks,
                      score=outcome.score, grade=outcome.grade, analysis=outcome.analysis)

    def halt_names(self) -> set[str]:
        return {c.name for c in self.spec.prometheus.halt_when} if self.spec.prometheus else set()

