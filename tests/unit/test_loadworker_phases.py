"""Cutting an engine phase out of the workers' merged seconds (loadworker/phases.py), and what coverage does to
the verdict (analysis/coverage.py). Pure."""

from __future__ import annotations

import pytest

from chaos_operator.analysis import coverage
from chaos_operator.analysis.verdict import Outcome
from chaos_operator.loadworker.phases import Instants, cut, second_of
from chaos_operator.loadworker.record import Recorder, SecondRecord, merge
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import Check, PhaseResults, Verdict

RATE = 10.0


def seconds(first: int, end: int, latency_s: float = 0.01, errors_from: int | None = None) -> list[SecondRecord]:
    """One worker sending the whole schedule at RATE: every request answered, 5xx from second `errors_from`."""
    rec = Recorder()
    for second in range(first, end):
        for _ in range(int(RATE)):
            rec.scheduled(second)
            rec.sent(second, 0.0)
            failing = errors_from is not None and second >= errors_from
            rec.finished(second, "5xx" if failing else "2xx", latency_s, success=not failing)
    rec.close_before(end)
    return rec.closed


def at(start: float, end: float, split: float | None = None) -> Instants:
    return Instants(start_s=start, end_s=end, started_at="2026-01-01T00:00:00Z", finished_at="2026-01-01T00:00:09Z",
                    split_s=split, split_at=None if split is None else "2026-01-01T00:00:02Z")


@pytest.mark.parametrize(("offset", "second"), [(-3.0, 0), (0.0, 0), (0.49, 0), (0.5, 0), (0.51, 1), (2.2, 2)])
def test_a_second_belongs_to_the_phase_that_holds_its_middle(offset: float, second: int) -> None:
    assert second_of(offset) == second


def test_following_phases_share_no_second_and_lose_none() -> None:
    merged = merge([seconds(0, 20)])
    a, b = cut(merged, RATE, at(0.2, 7.6)), cut(merged, RATE, at(7.6, 15.3))
    assert (a.first, a.end, b.first, b.end) == (0, 8, 8, 15)
    assert a.result.requests + b.result.requests == 15 * RATE
    assert a.result.coverage == b.result.coverage == 1.0
    assert [s.offset_s for s in b.samples] == [float(i) for i in range(7)]  # from the phase's first second


def test_two_workers_sharing_a_schedule_give_the_figures_of_one() -> None:
    even = [r.model_copy(update={"scheduled": 5, "outcomes": {"2xx": 5}, "success": 5}) for r in seconds(0, 4)]
    one = cut(merge([seconds(0, 4)]), RATE, at(0, 4)).result
    two = cut(merge([even, even]), RATE, at(0, 4)).result
    assert (two.requests, two.errors, two.coverage) == (one.requests, one.errors, 1.0)


def test_the_split_keeps_the_ramp_apart_and_errors_are_classed() -> None:
    phase = cut(merge([seconds(0, 10, errors_from=6)]), RATE, at(0.0, 10.0, split=2.4))
    assert phase.result.ramp is not None and phase.result.ramp.requests == 2 * RATE  # seconds 0 and 1
    assert phase.split_offset_s == pytest.approx(2.4)
    assert (phase.result.requests, phase.result.errors) == (8 * RATE, 4 * RATE)
    assert phase.result.error_classes.http5xx == 4 * RATE and phase.result.error_classes.timeout == 0
    assert phase.result.latency is not None and float(phase.result.latency.p50) == pytest.approx(0.01, rel=1e-3)


def test_a_lost_worker_lowers_coverage_to_its_share() -> None:
    half = [r.model_copy(update={"scheduled": 5, "outcomes": {"2xx": 5}, "success": 5}) for r in seconds(0, 10)]
    phase = cut(merge([half]), RATE, at(0, 10))  # the other worker's records never came
    assert phase.result.coverage == pytest.approx(0.5)


def _outcome(checks: list[Check]) -> Outcome:
    return Outcome(Verdict.PASSED, "SLOsHeld", "All checks passed.", checks, score=97, grade="GOOD")


def test_low_coverage_makes_the_phases_checks_and_the_run_inconclusive() -> None:
    merged = merge([seconds(0, 10)])
    full = cut(merged, RATE, at(0, 5)).result
    low = cut(merge([seconds(5, 8)]), RATE, at(5, 10)).result  # 3 of 5 seconds
    checks = [Check(name="maxErrorRate", phase=p, observed="0%", limit="1%", passed=True)
              for p in ("baseline", "chaos", "experiment")]
    judged = coverage.judge(_outcome(checks), PhaseResults(baseline=full, chaos=low))
    assert (judged.verdict, judged.reason, judged.score, judged.grade) == (Verdict.INCONCLUSIVE, "LowCoverage",
                                                                           None, None)
    assert "chaos 60.0%" in judged.message
    assert [(c.phase, c.passed, c.inconclusive is not None) for c in judged.checks] == [
        ("baseline", True, False), ("chaos", False, True), ("experiment", False, True)]
    untouched = coverage.judge(_outcome(checks), PhaseResults(baseline=full, chaos=full))
    assert untouched == _outcome(checks)


def test_a_baseline_below_coverage_stops_before_any_injection() -> None:
    low = cut(merge([seconds(0, 9)]), RATE, at(0, 10)).result
    gate = coverage.baseline_gate(Slos(), low.model_copy(update={"requests": 500}))
    assert gate is not None and (gate.verdict, gate.reason) == (Verdict.INCONCLUSIVE, "LowCoverage")
