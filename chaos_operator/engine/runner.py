"""Drives one experiment through its phases using only the ports (design §4)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chaos_operator.engine import analyze, gates, lifecycle
from chaos_operator.engine.chaos import ChaosWindow
from chaos_operator.engine.ports import Clock, KubeApi, LoadDriver, LoadResult
from chaos_operator.engine.prom import PromChecks
from chaos_operator.engine.recorder import Recorder, StatusObserver
from chaos_operator.engine.targets import resolve
from chaos_operator.faults.base import DEFAULT_IMAGE, FaultContext
from chaos_operator.faults.registry import fault_for
from chaos_operator.metrics.source import MetricsError, MetricsSource
from chaos_operator.models.duration import Duration
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.targeting.selection import NoTargets, new_seed
from chaos_operator.targeting.selector import to_query

log = logging.getLogger(__name__)


class LoadTargetNotFound(Exception):
    """The Service named in spec.load does not exist or has no address."""


LoadFactory = Callable[[ExperimentSpec, str], Awaitable[LoadDriver]]


@dataclass(frozen=True)
class Deps:
    kube: KubeApi
    clock: Clock
    open_load: LoadFactory
    operator_namespace: str
    allowed_namespaces: frozenset[str] | None = None
    operator_pods: frozenset[str] = frozenset()
    poll_s: float = 1.0
    open_metrics: Callable[[str], MetricsSource] | None = None  # Prometheus URL -> source
    halt_poll_s: float = 2.0
    image: str = DEFAULT_IMAGE  # the operator's image: helper and stress pods run the agent from it
    gates: gates.Gates = gates.Gates()  # the kill switch and the namespace opt-in
    observer: StatusObserver | None = None  # told of every status write (metrics)


@dataclass(frozen=True)
class Control:
    """What the outside world can ask of a running experiment."""

    abort_requested: Callable[[], bool]  # spec.abort became true
    stopping: Callable[[], bool]  # the daemon is being stopped: operator exit or resource deletion


class Ended(Exception):
    """The experiment reached a terminal phase early; the status says why."""


class Runner:
    def __init__(self, deps: Deps, spec: ExperimentSpec, rec: Recorder, control: Control) -> None:
        self.deps = deps
        self.spec = spec
        self.rec = rec
        self.control = control
        self.stop = asyncio.Event()
        self.fault = fault_for(spec.fault.kind)
        self.load: LoadDriver | None = None
        self.prom: PromChecks | None = None
        if spec.prometheus is not None and deps.open_metrics is not None:
            self.prom = PromChecks(deps.open_metrics(spec.prometheus.url), spec.prometheus,
                                   rec.ref.namespace, rec.ref.name)

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch_control())
        try:
            decision = lifecycle.resume(self.rec.status)
            log.info("%s: %s (%s)", self.rec.ref.name, decision.action.value, decision.why)
            if decision.action is lifecycle.Resume.RECOVER_AND_END:
                await self._window(self.rec.status.ready_before or 0).recover_all()
                await self._end("Completed", "Inconclusive", "OperatorRestarted",
                                f"the operator restarted during {self.rec.status.phase}; faults were recovered "
                                "and the figures of the interrupted phase are lost")
            elif decision.action is lifecycle.Resume.ANALYZE:
                await self._analyze()
            elif decision.action is lifecycle.Resume.START:
                await self._run_from_start()
        except Ended:
            pass
        except Exception as exc:
            # A bug or an API outage: never leave a fault behind, and never re-run the experiment.
            log.exception("%s: unexpected error", self.rec.ref.name)
            self.stop.set()
            await self.recover_leftovers()
            try:
                await self._end("Failed", None, "OperatorError", f"the operator hit an error: {exc}"[:1024])
            except Ended:
                pass
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
            await asyncio.sleep(0.2)

    async def _fail(self, reason: str, message: str) -> None:
        await self._end("Failed", None, reason, message)

    async def _end(self, phase: str, verdict: str | None, reason: str, message: str) -> None:
        await self.rec.update(phase=phase, verdict=verdict, reason=reason, message=message,
                              finished_at=self.rec.timestamp())
        event = {"Completed": "Completed", "Aborted": "Aborted"}.get(phase, "Failed")
        await self.rec.event(event, message, warning=phase != "Completed")
        raise Ended

    async def _check_stop(self, window: ChaosWindow | None) -> None:
        """After a phase step: abort ends the experiment; a daemon stop leaves it to resume logic."""
        if not self.stop.is_set():
            return
        if window is not None:
            await window.stop_watch()
            await window.recover_all()
        if why := gates.abort_reason(self.control.abort_requested(), self.deps.gates, self.rec.status.phase):
            await self._end("Aborted", None, *why)
        raise Ended  # operator stopping or resource deleting: the finalizer/restart path finishes it

    async def _run_from_start(self) -> None:
        ns = self.rec.ref.namespace
        # A restart from Baseline lands here too: nothing was injected, so start the figures afresh.
        await self.rec.update(started_at=self.rec.timestamp(), reason="Started",
                              message="resolving targets and load", injections=[], targets=[])
        await self.rec.event("Started", f"{self.spec.fault.kind} experiment started")
        if refused := await gates.refusal(self.deps.kube, ns, self.deps.gates, self.deps.operator_namespace,
                                          self.deps.allowed_namespaces):
            await self._fail(*refused)
        if self.spec.prometheus is not None:
            await self._probe_prometheus()
        try:
            self.load = await self.deps.open_load(self.spec, ns)
        except LoadTargetNotFound as exc:
            await self._fail("LoadTargetNotFound", str(exc))
        seed = self.rec.status.seed if self.rec.status.seed is not None else self.spec.target.seed
        seed = seed if seed is not None else new_seed()
        try:
            found = await resolve(self.deps.kube, ns, self.spec.target, seed, self.deps.operator_pods)
        except NoTargets as exc:
            await self._fail("NoTargets", str(exc))
        # Write-ahead: targets are in status before anything is touched.
        await self.rec.update(targets=found.targets, seed=seed, ready_before=found.ready_matching)
        await self.rec.event("TargetsSelected", found.summary)
        if self.spec.dry_run:
            await self._end("Completed", None, "DryRun",
                            f"dry run: {found.summary}; nothing was injected and no load was sent")
        await self._baseline()
        await self._chaos()
        await self._recovery()
        await self._analyze()

    async def _probe_prometheus(self) -> None:
        if self.prom is None:
            await self._fail("PrometheusUnreachable", "spec.prometheus is set but no metrics client is configured")
        assert self.prom is not None
        try:
            await self.prom.probe(self.deps.clock.now())
        except MetricsError as exc:
            await self._fail("PrometheusUnreachable", str(exc))

    async def _measure(self, seconds: float, stop: asyncio.Event | None = None) -> LoadResult:
        assert self.load is not None
        return await self.load.run_phase(seconds, stop or self.stop)

    async def _baseline(self) -> None:
        await self.rec.update(phase="Baseline", reason="Running", message="measuring the baseline")
        result = await self._measure(self.spec.phases.baseline)
        await self.rec.update(phases=self.rec.status.phases.model_copy(update={"baseline": result.result}))
        await self._check_stop(None)
        gate = analyze.baseline_gate(self.spec, result.result)
        if gate is not None:
            verdict, reason, message, checks = gate
            await self.rec.update(checks=checks)
            await self._end("Completed", verdict, reason, message)

    def _window(self, ready_before: int, stop: asyncio.Event | None = None) -> ChaosWindow:
        ctx = FaultContext(kube=self.deps.kube, clock=self.deps.clock, namespace=self.rec.ref.namespace,
                           experiment=self.rec.ref.name, spec=self.spec,
                           label_selector=to_query(self.spec.target.selector), ready_before=ready_before,
                           experiment_uid=self.rec.ref.uid, image=self.deps.image)
        return ChaosWindow(self.rec, self.fault, ctx, stop or self.stop, self.deps.poll_s)

    async def _chaos(self) -> None:
        # The chaos window ends early on abort/stop, or on a halt condition (which still measures recovery).
        chaos_end = asyncio.Event()
        window = self._window(self.rec.status.ready_before or 0, chaos_end)
        self._chaos_window = window
        await self.rec.update(phase="Chaos", message=f"injecting {self.spec.fault.kind}")
        started = self.deps.clock.monotonic()
        helpers = [asyncio.create_task(self._relay_stop(chaos_end)),
                   asyncio.create_task(self._watch_halt(chaos_end))]
        load_task = asyncio.create_task(self._measure(self.spec.phases.chaos, chaos_end))
        try:
            injected = await window.inject_round(list(self.rec.status.targets))
            if injected == 0 and not chaos_end.is_set():
                chaos_end.set()
                await load_task
                await window.recover_all()
                await self._fail("InjectionFailed", "no target could be injected; see status.injections")
            await self._repeat_rounds(window, started, chaos_end)
            result = await load_task
        except BaseException:
            load_task.cancel()
            raise
        finally:
            for task in helpers:
                task.cancel()
        self._chaos_result = result
        await window.recover_all()
        await self.rec.update(phases=self.rec.status.phases.model_copy(update={"chaos": result.result}))
        await self._check_stop(window)

    async def _relay_stop(self, chaos_end: asyncio.Event) -> None:
        await self.stop.wait()
        chaos_end.set()

    async def _watch_halt(self, chaos_end: asyncio.Event) -> None:
        if self.prom is None or not self.prom.spec.halt_when:
            return
        started = self.deps.clock.now()
        while not chaos_end.is_set():
            breach = await self.prom.halt_breach(started, self.deps.clock.now())
            if breach is not None:
                # Record first (write-ahead of the early end), then end the window: recovery still runs.
                await self.rec.update(checks=[*self.rec.status.checks, breach])
                await self.rec.event("Halted", f"halt condition {breach.name}: {breach.observed} "
                                               f"(limit {breach.limit}); recovering now", warning=True)
                chaos_end.set()
                return
            try:
                await asyncio.wait_for(chaos_end.wait(), self.deps.halt_poll_s)
            except TimeoutError:
                pass

    async def _repeat_rounds(self, window: ChaosWindow, started: float, chaos_end: asyncio.Event) -> None:
        interval = self.fault.repeat_interval(window.ctx)
        end = started + self.spec.phases.chaos
        round_no = 1
        while True:
            now = self.deps.clock.monotonic()
            wake = end if interval is None else min(end, started + round_no * interval)
            if now >= end:
                return
            try:
                await asyncio.wait_for(chaos_end.wait(), timeout=max(0.0, wake - now))
                return  # stopped or halted
            except TimeoutError:
                pass
            if interval is None or self.deps.clock.monotonic() >= end:
                continue
            seed = (self.rec.status.seed or 0) + round_no
            try:
                found = await resolve(self.deps.kube, self.rec.ref.namespace, self.spec.target, seed,
                                      self.deps.operator_pods)
            except Exception as exc:  # no eligible pod right now (all replacing): skip this round
                await self.rec.event("RoundSkipped", f"round {round_no + 1}: {exc}")
            else:
                await self.rec.update(targets=[*self.rec.status.targets, *found.targets][:1000])
                await window.inject_round(found.targets)
            round_no += 1

    async def _recovery(self) -> None:
        window = self._chaos_window
        await self.rec.update(phase="Recovery", message="measuring recovery")
        result = await self._measure(self.spec.phases.recovery)
        await window.stop_watch()
        recovery_s = analyze.recovery_seconds(self.spec, self.rec.status, self._chaos_result, result,
                                              window.last_injection_mono, window.whole_at_mono,
                                              self.fault.instant)
        await self.rec.update(phases=self.rec.status.phases.model_copy(update={"recovery": result.result}),
                              recovery_time=None if recovery_s is None else Duration(recovery_s))
        await self._check_stop(None)

    async def _analyze(self) -> None:
        await self.rec.update(phase="Analyzing", message="analysing")
        extra = await self.prom.phase_checks(self.rec.status) if self.prom is not None else []
        halt_names = {c.name for c in self.spec.prometheus.halt_when} if self.spec.prometheus else set()
        outcome = analyze.final(self.spec, self.rec.status, self.fault.instant, extra, halt_names)
        await self.rec.update(checks=outcome.checks, score=outcome.score, grade=outcome.grade)
        await self._end("Completed", outcome.verdict, outcome.reason, outcome.message)
