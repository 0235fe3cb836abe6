"""Every decision of the runner, on a virtual clock: baseline gate, halt, abort and stop in each phase, restart
in each phase, failed injection, repeated rounds and an unexpected error (fakes in fakes.py)."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import pytest

from chaos_operator.engine.chaos_window import RECOVER_TIMEOUT_S
from chaos_operator.engine.deps import Deps
from chaos_operator.engine.prom import UNREADABLE_GRACE_S
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import ExperimentStatus, Injection, PhaseResults, RecordState
from chaos_operator.sli.source import MetricsError
from tests.support.clock import FakeClock
from tests.unit.engine.fakes import FakeMetrics, Health
from tests.unit.engine.world import BASELINE, CHAOS, CHAOS_END, CHAOS_START, RECOVERY, World, make_spec


async def test_a_healthy_run_passes_with_each_phase_its_own_length() -> None:
    world = World()
    await world.run()
    status = world.kube.status
    assert world.kube.phases() == ["Pending", "Baseline", "Chaos", "Recovery", "Analyzing", "Completed"]
    assert (status.verdict, status.reason) == ("Passed", "SLOsHeld")
    assert world.load.phases_run == [(0.0, BASELINE), (CHAOS_START, CHAOS_END), (CHAOS_END, CHAOS_END + RECOVERY)]
    assert world.calls("apply") == [CHAOS_START] * 3 and world.calls("recover") == [CHAOS_END] * 3
    assert [r.state for r in status.injections] == ["Recovered"] * 3
    assert status.recovery_time is not None and float(status.recovery_time) == 0.0
    assert world.load.closed and world.fault.live() == set()


async def test_the_status_lists_each_comparison_with_its_interval_and_class() -> None:
    world = World()
    world.load.script = [Health(), Health(error_pct=20, latency_s=0.030), Health()]
    await world.run(make_spec(slos={"maxErrorRate": 0.005}))
    analysis = {(c.comparison, c.metric): c for c in world.kube.status.analysis}
    assert len(analysis) == 8
    chaos_p50 = analysis[("baselineVsChaos", "latencyP50")]
    assert chaos_p50.estimate is not None and chaos_p50.interval is not None
    assert abs(chaos_p50.estimate - 2.0) < 0.05 and chaos_p50.class_.value == "Degraded"  # 10 ms -> 30 ms
    assert chaos_p50.samples == 40 * int(CHAOS) and chaos_p50.baseline_samples == 50 * int(BASELINE)
    assert analysis[("baselineVsChaos", "errorRate")].class_.value == "Degraded"  # +20 points, tolerance 0.5
    assert analysis[("baselineVsRecovery", "latencyP95")].class_.value == "Equivalent"
    # 0 errors in 500 requests on both sides: the upper bound (0.76 %) still reaches past the 0.5 point tolerance.
    errors = analysis[("baselineVsRecovery", "errorRate")]
    assert (errors.class_.value, errors.reason, errors.estimate) == ("Inconclusive", "IntervalStraddles", 0.0)
    assert errors.phase_needed is not None and float(errors.phase_needed) > RECOVERY


async def test_unhealthy_baseline_injects_nothing() -> None:
    world = World()
    world.load.script = [Health(error_pct=20)]
    await world.run(make_spec(slos={"maxErrorRate": 0.01}))
    status = world.kube.status
    assert (status.phase, status.verdict, status.reason) == ("Completed", "Inconclusive", "BaselineUnhealthy")
    assert world.fault.calls == [] and len(world.load.phases_run) == 1
    assert [c.name for c in status.checks] == ["maxErrorRate"]


async def test_thin_baseline_injects_nothing() -> None:
    world = World()
    world.load.rate = 5  # 50 requests in the baseline, fewer than the 100 a verdict needs
    await world.run()
    assert world.kube.status.reason == "TooFewSamples" and world.fault.calls == []


async def test_failures_under_chaos_fail_the_slos_and_still_recover() -> None:
    world = World()
    world.load.script = [Health(), Health(error_pct=50, latency_s=0.5), Health()]
    await world.run(make_spec(slos={"maxErrorRate": 0.05}))
    status = world.kube.status
    assert (status.verdict, status.reason) == ("Failed", "SLOsViolated")
    assert status.grade == "POOR" and world.fault.live() == set()


def _halting_metrics(breach_after: float, clock: FakeClock) -> FakeMetrics:
    async def answer(query: str, at: datetime.datetime) -> list[float]:
        return [1.0 if clock.t >= breach_after else 0.0]
    return FakeMetrics(answer)


async def test_a_halt_condition_recovers_at_once_and_recovery_is_still_measured() -> None:
    world = World()
    world.metrics = _halting_metrics(CHAOS_START + 5, world.clock)
    spec = make_spec(prometheus={"url": "http://prom:9090", "haltWhen": [{"name": "errors", "query": "q", "max": 0.5}]})
    await world.run(spec)
    status = world.kube.status
    assert (status.verdict, status.reason) == ("Failed", "Halted")
    halted_at = world.calls("recover")[0]
    assert CHAOS_START + 5 <= halted_at <= CHAOS_START + 5 + Deps.halt_poll_s
    assert world.load.phases_run[1] == (CHAOS_START, halted_at)  # the chaos figures end with the fault
    assert world.load.phases_run[2] == (halted_at, halted_at + RECOVERY)
    assert "Halted" in world.kube.reasons() and any(c.name == "errors" and not c.passed for c in status.checks)


async def test_unreachable_prometheus_fails_before_anything_is_touched() -> None:
    world = World()

    async def down(query: str, at: datetime.datetime) -> list[float]:
        raise MetricsError("connection refused")
    world.metrics = FakeMetrics(down)
    await world.run(make_spec(prometheus={"url": "http://prom:9090"}))
    assert world.kube.status.reason == "PrometheusUnreachable" and world.loads_opened == 0


@pytest.mark.parametrize(("at", "phase"), [(5.0, "Baseline"), (CHAOS_START + 5, "Chaos"),
                                           (CHAOS_END + 5, "Recovery")])
async def test_abort_in_each_phase_ends_aborted_with_nothing_left(at: float, phase: str) -> None:
    world = World()
    world.clock.at(at, lambda: setattr(world, "abort", True))
    await world.run()
    status = world.kube.status
    assert (status.phase, status.reason) == ("Aborted", "Aborted")
    assert status.message == f"spec.abort was set during {phase}"
    assert world.fault.live() == set()
    if phase == "Chaos":
        assert world.calls("recover")[0] <= at + 1  # recovered at once, not at the end of the window
    # The figures of the phase that was cut short are kept; later phases never ran.
    assert (status.phases.recovery is None) is (phase != "Recovery")


@pytest.mark.parametrize(("at", "phase", "injected"), [(5.0, "Baseline", False), (CHAOS_START + 5, "Chaos", True),
                                                       (CHAOS_END + 5, "Recovery", True)])
async def test_a_stopping_daemon_recovers_and_leaves_the_phase_to_the_next(at: float, phase: str,
                                                                            injected: bool) -> None:
    world = World()
    world.clock.at(at, lambda: setattr(world, "stopping", True))
    await world.run()
    assert world.kube.status.phase == phase  # not terminal: the restart or the finalizer finishes it
    assert bool(world.calls("apply")) is injected and world.fault.live() == set()
    assert world.load.closed


def _status_in(phase: str, **extra: Any) -> ExperimentStatus:
    return ExperimentStatus.model_validate({"phase": phase, **extra})


@pytest.mark.parametrize("phase", ["Pending", "Baseline"])
async def test_restart_before_chaos_runs_from_the_start(phase: str) -> None:
    world = World()
    await world.run(status=_status_in(phase, seed=7, startedAt="2026-01-01T00:00:00Z"))
    assert world.kube.status.verdict == "Passed" and world.kube.status.seed == 7


@pytest.mark.parametrize("phase", ["Chaos", "Recovery"])
async def test_restart_mid_fault_recovers_every_live_record_and_ends_failed(phase: str) -> None:
    world = World()
    records = [Injection(target="checkout-0", uid="uid-checkout-0", state=RecordState.INJECTED),
               Injection(target="checkout-1", uid="uid-checkout-1", state=RecordState.PENDING),
               Injection(target="checkout-2", uid="uid-checkout-2", state=RecordState.RECOVERED)]
    await world.run(status=ExperimentStatus(phase=phase, injections=records))  # type: ignore[arg-type]
    status = world.kube.status
    assert (status.phase, status.verdict, status.reason) == ("Failed", None, "OperatorRestarted")
    assert sorted(t for _, call, t in world.fault.calls if call == "recover") == ["checkout-0", "checkout-1"]
    assert world.loads_opened == 0


async def test_restart_in_analyzing_finishes_from_the_recorded_figures() -> None:
    first = World()
    await first.run()
    analysing = first.kube.writes[-2][1]  # the write that entered Analyzing
    assert analysing["phase"] == "Analyzing"
    world = World()
    await world.run(status=ExperimentStatus.model_validate(analysing))
    assert world.kube.status.verdict == "Passed" and world.loads_opened == 0 and world.fault.calls == []
    assert world.kube.status.score == first.kube.status.score


@pytest.mark.parametrize("phase", ["Completed", "Aborted", "Failed"])
async def test_restart_of_a_finished_experiment_does_nothing(phase: str) -> None:
    world = World()
    await world.run(status=_status_in(phase))
    assert world.kube.writes == [] and world.fault.calls == []


async def test_no_target_injected_fails_and_stops_the_load() -> None:
    world = World()
    world.fault.refuse = True
    await world.run()
    status = world.kube.status
    assert (status.phase, status.reason) == ("Failed", "InjectionFailed")
    assert [r.state for r in status.injections] == ["Failed"] * 3
    assert world.load.phases_run[1] == (CHAOS_START, CHAOS_START)


async def test_repeated_rounds_inject_on_their_interval_until_the_window_ends() -> None:
    world = World()
    world.fault.interval = 8.0
    await world.run(make_spec(target={"selector": {"matchLabels": {"app": "checkout"}}, "mode": "one"}))
    assert world.calls("apply") == [CHAOS_START, CHAOS_START + 8, CHAOS_START + 16]
    assert len(world.kube.status.injections) == 3 and world.fault.live() == set()


async def test_dry_run_selects_and_touches_nothing() -> None:
    world = World()
    await world.run(make_spec(dryRun=True))
    assert (world.kube.status.reason, world.fault.calls, world.load.phases_run) == ("DryRun", [], [])


async def test_refused_namespace_and_no_targets_fail_before_load() -> None:
    world = World()
    world.kube.pods.clear()
    await world.run()
    assert world.kube.status.reason == "NoTargets" and world.fault.calls == []


async def test_a_round_that_cannot_list_pods_is_skipped_and_the_window_goes_on() -> None:
    world = World()
    world.fault.interval = 5.0

    def break_listing() -> None:
        world.kube.fail_listing = RuntimeError("API outage")
    world.clock.at(CHAOS_START + 1, break_listing)
    await world.run(make_spec(target={"selector": {"matchLabels": {"app": "checkout"}}, "mode": "one"}))
    # A failed round is skipped (RoundSkipped); the run goes on and recovers at the end.
    assert "RoundSkipped" in world.kube.reasons() and world.fault.live() == set()


async def test_a_bug_mid_run_ends_failed_operator_error_with_faults_recovered() -> None:
    world = World()
    original = world.load.run_phase
    count = 0

    async def run_phase(duration_s: float, stop: Any, split: Any = None) -> Any:
        nonlocal count
        count += 1
        if count == 3:
            raise RuntimeError("load generator bug")
        return await original(duration_s, stop, split)
    world.load.run_phase = run_phase  # type: ignore[method-assign]
    await world.run()
    status = world.kube.status
    assert (status.phase, status.reason) == ("Failed", "OperatorError")
    assert "load generator bug" in (status.message or "") and world.fault.live() == set()


def test_phase_results_keep_their_wire_names() -> None:
    assert set(PhaseResults.model_fields) == {"baseline", "chaos", "recovery"}


def _halt_spec(on_missing: str | None = None) -> ExperimentSpec:
    cond: dict[str, Any] = {"name": "errors", "query": "q", "max": 0.5}
    if on_missing is not None:
        cond["onMissing"] = on_missing
    return make_spec(prometheus={"url": "http://prom:9090", "haltWhen": [cond]})


def _answers(world: World, no_series_from: float = 1e9, down: tuple[float, float] = (1e9, 1e9)) -> FakeMetrics:
    async def answer(query: str, at: datetime.datetime) -> list[float]:
        if query == "vector(1)":
            return [1.0]
        if down[0] <= world.clock.t < down[1]:
            raise MetricsError("connection refused")
        return [] if world.clock.t >= no_series_from else [0.0]
    return FakeMetrics(answer)


async def test_a_halt_condition_with_no_series_halts_by_default() -> None:
    world = World()
    world.metrics = _answers(world, no_series_from=CHAOS_START + 4)
    await world.run(_halt_spec())
    status = world.kube.status
    assert (status.verdict, status.reason) == ("Failed", "Halted")
    halt = next(c for c in status.checks if c.name == "errors")
    assert halt.observed == "no data" and world.calls("recover")[0] < CHAOS_END


async def test_a_halt_condition_with_no_series_is_ignored_when_it_says_so() -> None:
    world = World()
    world.metrics = _answers(world, no_series_from=CHAOS_START + 4)
    await world.run(_halt_spec("ignore"))
    assert world.kube.status.verdict == "Passed" and world.calls("recover") == [CHAOS_END] * 3


async def test_a_short_metrics_outage_does_not_halt() -> None:
    world = World()
    world.metrics = _answers(world, down=(CHAOS_START + 2, CHAOS_START + 2 + UNREADABLE_GRACE_S - 3))
    await world.run(_halt_spec())
    assert world.kube.status.verdict == "Passed"


async def test_a_halt_condition_unreadable_past_its_grace_halts() -> None:
    world = World()
    world.metrics = _answers(world, down=(CHAOS_START + 2, 1e9))
    await world.run(_halt_spec("ignore"))  # onMissing is about empty answers, not about unreadable ones
    status = world.kube.status
    assert status.reason == "Halted"
    halted = world.calls("recover")[0]
    assert CHAOS_START + 2 + UNREADABLE_GRACE_S <= halted <= CHAOS_START + 2 + UNREADABLE_GRACE_S + Deps.halt_poll_s
    assert next(c for c in status.checks if c.name == "errors").observed.startswith("unreadable")


async def test_chaos_figures_start_once_every_fault_is_in_effect_and_the_ramp_is_apart() -> None:
    world = World()
    world.fault.apply_s = 3.0  # helpers take 3 s to hold the fault
    world.load.script = [Health(), Health(error_pct=10), Health()]
    await world.run()
    chaos = world.kube.status.phases.chaos
    assert chaos is not None and chaos.ramp is not None
    assert (chaos.ramp.requests, chaos.requests) == (50 * 3, 50 * (CHAOS - 3))
    assert (chaos.ramp.started_at, chaos.ramp.finished_at, chaos.started_at) == (
        "2026-01-01T00:00:10Z", "2026-01-01T00:00:13Z", "2026-01-01T00:00:13Z")
    assert world.calls("apply") == [CHAOS_START + 3] * 3


async def test_an_outage_of_fast_failures_grades_poor() -> None:
    world = World()
    world.load.script = [Health(), Health(error_pct=60, latency_s=0.001), Health()]
    await world.run()
    assert world.kube.status.grade == "POOR"


@pytest.mark.parametrize(("whole_after", "expected"), [(CHAOS_START + 3, 3.0), (CHAOS_END + 4, CHAOS + 4)])
async def test_an_instant_fault_recovers_when_its_workload_is_whole_in_chaos_or_in_recovery(
        whole_after: float, expected: float) -> None:
    # The chaos window closes with its phase; the recovery phase watches a workload not yet whole on its own.
    world = World()
    world.fault.instant, world.fault.whole_after = True, whole_after
    await world.run()
    status = world.kube.status
    assert status.recovery_time is not None and float(status.recovery_time) == expected
    assert (status.verdict, status.reason) == ("Passed", "SLOsHeld")


async def test_a_bug_mid_chaos_leaves_no_task_of_the_window_behind() -> None:
    world = World()
    world.fault.whole_after = 1e9  # the workload watch would poll for ever
    original = world.load.run_phase
    count = 0

    async def run_phase(duration_s: float, stop: Any, split: Any = None) -> Any:
        nonlocal count
        count += 1
        if count == 2:
            await world.clock.sleep(5.0)  # injected by now: the window's watch runs
            raise RuntimeError("load generator bug")
        return await original(duration_s, stop, split)
    world.load.run_phase = run_phase  # type: ignore[method-assign]
    await world.run()
    assert (world.kube.status.phase, world.kube.status.reason) == ("Failed", "OperatorError")
    assert world.fault.live() == set()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()] == []


async def test_a_recovery_that_hangs_is_bounded_on_the_clock_and_its_record_fails() -> None:
    world = World()
    world.fault.recover_s = 10 * RECOVER_TIMEOUT_S
    await world.run()
    status = world.kube.status
    assert [r.state for r in status.injections] == ["RecoveryFailed"] * 3
    assert all("recovery failed" in (r.message or "") for r in status.injections)
    assert world.calls("recover") == []  # each was cancelled at its bound, in virtual time
    assert (status.phase, status.verdict, status.reason) == ("Completed", "Failed", "RecoveryFailed")
