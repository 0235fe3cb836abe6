"""Drives one experiment through its phases using only the ports (docs/architecture.md, "One experiment, end to end").

Each phase returns its typed result to the next, or an `Early` ending (engine/run.py); the figures live in
`RunFigures` and the Recorder writes `.status` as their projection.
"""

from __future__ import annotations

import asyncio
import logging

from chaos_operator.analysis import verdict
from chaos_operator.engine import analyze, gating, lifecycle, timeline
from chaos_operator.engine.chaos_window import ChaosWindow
from chaos_operator.engine.deps import Control, Deps, LoadTargetNotFound
from chaos_operator.engine.prom import PromChecks
from chaos_operator.engine.recorder import Recorder
from chaos_operator.engine.run import STOPPED, ChaosResult, Early, Ending, Prepared, RunFigures
from chaos_operator.engine.targets import resolve
from chaos_operator.faults.base import FaultContext
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import TERMINAL_PHASES, Check, Phase, Verdict
from chaos_operator.ports import LoadDriver, LoadResult
from chaos_operator.sli.source import MetricsError
from chaos_operator.targeting.selection import NoTargets, new_seed
from chaos_operator.targeting.selector import to_query

log = logging.getLogger(__name__)
CONTROL_POLL_S = 0.2  # how often spec.abort and the daemon's stop flag are looked at


def _failed(reason: str, message: str) -> Ending:
    return Ending(Phase.FAILED, None, reason, message)


class Runner:
    def __init__(self, deps: Deps, spec: ExperimentSpec, rec: Recorder, control: Control) -> None:
        self.deps = deps
        self.clock = deps.clock
        self.spec = spec
        self.rec = rec
        self.control = control
        self.stop = asyncio.Event()
        self.fault = deps.fault_for(spec.fault.kind)
        self.load: LoadDriver | None = None
        self.figures = RunFigures()
        self.prom: PromChecks | None = None
        if spec.prometheus is not None and deps.open_metrics is not None:
            self.prom = PromChecks(deps.open_metrics(spec.prometheus.url), spec.prometheus,
                                   rec.ref.namespace, rec.ref.name)

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch_control())
        try:
            decision = lifecycle.resume(self.rec.status)
            log.info("%s: %s (%s)", self.rec.ref.name, decision.action.value, decision.why)
            early: Early | None = None
            if decision.action is lifecycle.Resume.RECOVER_AND_END:
                await self._window(self.rec.status.ready_before or 0).recover_all()
                early = Ending(Phase.COMPLETED, Verdict.INCONCLUSIVE, "OperatorRestarted",
                               f"the operator restarted during {self.rec.status.phase}; faults were recovered "
                               "and the figures of the interrupted phase are lost")
            elif decision.action is lifecycle.Resume.ANALYZE:
                self.figures = RunFigures.from_status(self.rec.status, self._halt_names())
                early = await self._analyze()
            elif decision.action is lifecycle.Resume.START:
                early = await self._run_from_start()
            if isinstance(early, Ending):
                await self._end(early)
        except Exception as exc:
            # A bug or an API outage: never leave a fault behind, and never re-run the experiment.
            log.exception("%s: unexpected error", self.rec.ref.name)
            self.stop.set()
            await self.recover_leftovers()
            if self.rec.status.phase not in TERMINAL_PHASES:  # another writer may have ended it meanwhile
                await self._end(_failed("OperatorError", f"the operator hit an error: {exc}"[:1024]))
        finally:
            watcher.cancel()
            if self.load is not None:
                await self.load.close()

    async def recover_leftovers(self) -> None:
        """Recover records a stopped daemon may have left live (used by the deletion handler)."""
        if lifecycle.pending_recovery(self.rec.status):
            await self._window(self.rec.status.ready_before or 0).recover_all()

    async def _watch_control(self) -> None:
        while not self.stop.is_set():
            if self.control.abort_requested() or self.control.stopping() or self.deps.gates.paused() is not None:
                self.stop.set()
                return
            await self.clock.sleep(CONTROL_POLL_S)

    async def _end(self, ending: Ending) -> None:
        await self.rec.finish(ending.phase, ending.verdict, ending.reason, ending.message, checks=ending.checks,
                              score=ending.score, grade=ending.grade, analysis=ending.analysis,
                              timeline=timeline.build_for(self.load, self.rec.status.injections, self.clock))
        event = {Phase.COMPLETED: "Completed", Phase.ABORTED: "Aborted"}.get(ending.phase, "Failed")
        await self.rec.event(event, ending.message, warning=ending.phase != Phase.COMPLETED)

    async def _check_stop(self, window: ChaosWindow | None) -> Early | None:
        """After a phase step: abort ends the experiment; a daemon stop leaves it to resume logic."""
        if not self.stop.is_set():
            return None
        if window is not None:
            await window.stop_watch()
            await window.recover_all()
        if why := gating.abort_reason(self.control.abort_requested(), self.deps.gates, self.rec.status.phase):
            return Ending(Phase.ABORTED, None, *why)
        return STOPPED  # operator stopping or resource deleting: the finalizer/restart path finishes it

    async def _run_from_start(self) -> Early:
        prepared = await self._prepare()
        if not isinstance(prepared, Prepared):
            return prepared
        baseline = await self._baseline()
        if not isinstance(baseline, LoadResult):
            return baseline
        chaos = await self._chaos(prepared)
        if not isinstance(chaos, ChaosResult):
            return chaos
        early = await self._recovery(chaos)
        return early if early is not None else await self._analyze()

    async def _prepare(self) -> Prepared | Early:
        ns = self.rec.ref.namespace
        # A restart from Baseline lands here too: nothing was injected, so start the figures afresh.
        await self.rec.begin("resolving targets and load")
        await self.rec.event("Started", f"{self.spec.fault.kind} experiment started")
        if gate := await gating.refusal(self.deps.kube, ns, self.deps.gates, self.deps.operator_namespace,
                                       self.deps.allowed_namespaces, self.deps.protected_namespaces):
            return _failed(*gate)
        if self.spec.prometheus is not None:
            refused = await self._probe_prometheus()
            if refused is not None:
                return refused
        try:
            self.load = timeline.Recording(await self.deps.open_load(self.spec, ns))
        except LoadTargetNotFound as exc:
            return _failed("LoadTargetNotFound", str(exc))
        seed = self.rec.status.seed if self.rec.status.seed is not None else self.spec.target.seed
        seed = seed if seed is not None else new_seed()
        try:
            found = await resolve(self.deps.kube, ns, self.spec.target, seed, self.deps.operator_pods)
        except NoTargets as exc:
            return _failed("NoTargets", str(exc))
        # Write-ahead: targets are in status before anything is touched.
        await self.rec.select_targets(found.targets, seed, found.ready_matching)
        await self.rec.event("TargetsSelected", found.summary)
        if self.spec.dry_run:
            return Ending(Phase.COMPLETED, None, "DryRun",
                          f"dry run: {found.summary}; nothing was injected and no load was sent")
        return Prepared(found.targets, seed, found.ready_matching)

    async def _probe_prometheus(self) -> Ending | None:
        if self.prom is None:
            return _failed("PrometheusUnreachable", "spec.prometheus is set but no metrics client is configured")
        try:
            await self.prom.probe(self.clock.now())
        except MetricsError as exc:
            return _failed("PrometheusUnreachable", str(exc))
        return None

    async def _measure(self, seconds: float, stop: asyncio.Event | None = None,
                       split: asyncio.Event | None = None) -> LoadResult:
        assert self.load is not None
        return await self.load.run_phase(seconds, stop or self.stop, split)

    async def _baseline(self) -> LoadResult | Early:
        await self.rec.enter(Phase.BASELINE, "measuring the baseline")
        result = await self._measure(self.spec.phases.baseline)
        self.figures.baseline = result.result
        self.figures.seconds["baseline"] = analyze.phase_seconds(result)
        await self.rec.record_phase("baseline", result.result)
        early = await self._check_stop(None)
        if early is not None:
            return early
        gate = verdict.baseline_gate(self.spec.slos, result.result)
        if gate is not None:
            return Ending(Phase.COMPLETED, gate.verdict, gate.reason, gate.message, checks=gate.checks)
        return result

    def _window(self, ready_before: int, stop: asyncio.Event | None = None) -> ChaosWindow:
        ctx = FaultContext(kube=self.deps.kube, clock=self.clock, namespace=self.rec.ref.namespace,
                           experiment=self.rec.ref.name, spec=self.spec,
                           label_selector=to_query(self.spec.target.selector), ready_before=ready_before,
                           experiment_uid=self.rec.ref.uid, image=self.deps.image)
        return ChaosWindow(self.rec, self.fault, ctx, stop or self.stop, self.deps.poll_s)

    async def _chaos(self, prepared: Prepared) -> ChaosResult | Early:
        # The chaos window ends early on abort/stop, or on a halt condition (which still measures recovery).
        chaos_end = asyncio.Event()
        window = self._window(prepared.ready_before, chaos_end)
        await self.rec.enter(Phase.CHAOS, f"injecting {self.spec.fault.kind}")
        started = self.clock.monotonic()
        relay = asyncio.create_task(self._relay_stop(chaos_end))
        halt = asyncio.create_task(self._watch_halt(chaos_end))
        # The chaos figures start once every target of the first round holds its fault; before is the ramp.
        in_effect = asyncio.Event()
        load_task = asyncio.create_task(self._measure(self.spec.phases.chaos, chaos_end, in_effect))
        try:
            injected = await window.inject_round(list(prepared.targets))
            if injected:
                in_effect.set()
            if injected == 0 and not chaos_end.is_set():
                chaos_end.set()
                await load_task
                await window.recover_all()
                return _failed("InjectionFailed", "no target could be injected; see status.injections")
            await self._repeat_rounds(window, started, chaos_end, prepared.seed)
            result = await load_task
        except BaseException:
            load_task.cancel()
            raise
        finally:
            relay.cancel()
            breach = halt.result() if halt.done() and not halt.cancelled() and not halt.exception() else None
            if breach is not None:
                self.figures.halts.append(breach)
            halt.cancel()
        await window.recover_all()
        self.figures.chaos = result.result
        self.figures.seconds["chaos"] = analyze.phase_seconds(result)
        await self.rec.record_phase("chaos", result.result)
        early = await self._check_stop(window)
        return early if early is not None else ChaosResult(result, window)

    async def _relay_stop(self, chaos_end: asyncio.Event) -> None:
        await self.stop.wait()
        chaos_end.set()

    async def _watch_halt(self, chaos_end: asyncio.Event) -> Check | None:
        if self.prom is None or not self.prom.spec.halt_when:
            return None
        started = self.clock.now()
        while not chaos_end.is_set():
            breach = await self.prom.halt_breach(started, self.clock.now())
            if breach is not None:
                # Record first (write-ahead of the early end), then end the window: recovery still runs.
                await self.rec.record_halt(breach)
                await self.rec.event("Halted", f"halt condition {breach.name}: {breach.observed} "
                                               f"(limit {breach.limit}); recovering now", warning=True)
                chaos_end.set()
                return breach
            await self.clock.wait_for(chaos_end, self.deps.halt_poll_s)
        return None

    async def _repeat_rounds(self, window: ChaosWindow, started: float, chaos_end: asyncio.Event,
                             seed: int) -> None:
        interval = self.fault.repeat_interval(window.ctx)
        end = started + self.spec.phases.chaos
        round_no = 1
        while True:
            now = self.clock.monotonic()
            wake = end if interval is None else min(end, started + round_no * interval)
            if now >= end:
                return
            if await self.clock.wait_for(chaos_end, max(0.0, wake - now)):
                return  # stopped or halted
            if interval is None or self.clock.monotonic() >= end:
                continue
            try:
                found = await resolve(self.deps.kube, self.rec.ref.namespace, self.spec.target, seed + round_no,
                                      self.deps.operator_pods)
            except Exception as exc:  # no eligible pod right now (all replacing): skip this round
                await self.rec.event("RoundSkipped", f"round {round_no + 1}: {exc}")
            else:
                await self.rec.add_targets(found.targets)
                await window.inject_round(found.targets)
            round_no += 1

    async def _recovery(self, chaos: ChaosResult) -> Early | None:
        await self.rec.enter(Phase.RECOVERY, "measuring recovery")
        result = await self._measure(self.spec.phases.recovery)
        window = chaos.window
        await window.stop_watch()
        self.figures.recovery = result.result
        self.figures.seconds["recovery"] = analyze.phase_seconds(result)
        self.figures.recovery_s = analyze.recovery_seconds(
            self.spec, self.figures.baseline, chaos.load, result, window.last_injection_mono,
            window.whole_at_mono, self.fault.instant)
        await self.rec.record_recovery(result.result, self.figures.recovery_s)
        return await self._check_stop(None)

    async def _analyze(self) -> Ending:
        await self.rec.enter(Phase.ANALYZING, "analysing")
        extra = await self.prom.phase_checks(self.figures) if self.prom is not None else []
        outcome = analyze.final(self.spec, self.figures, self.fault.instant, extra)
        return Ending(Phase.COMPLETED, outcome.verdict, outcome.reason, outcome.message, checks=outcome.checks,
                      score=outcome.score, grade=outcome.grade, analysis=outcome.analysis)

    def _halt_names(self) -> set[str]:
        return {c.name for c in self.spec.prometheus.halt_when} if self.spec.prometheus else set()

