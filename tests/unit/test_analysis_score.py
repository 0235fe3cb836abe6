from typing import Any

import pytest

from chaos_operator.analysis.score import ScoreParts, recovery_points, score, score_parts
from chaos_operator.models.duration import Duration
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import Latency, PhaseResult, PhaseResults


def _phase(requests: int, errors: int, mean: float | None) -> PhaseResult:
    lat = None
    if mean is not None:
        d = Duration(mean)
        lat = Latency(mean=d, p50=d, p90=d, p95=d, p99=d, max=d)
    return PhaseResult(started_at="t0", finished_at="t1", requests=requests, errors=errors,
                       error_rate=errors / requests if requests else 0.0, throughput=50.0, latency=lat)


def _phases(chaos: PhaseResult, recovery: PhaseResult, baseline_mean: float = 0.020) -> PhaseResults:
    return PhaseResults(baseline=_phase(3000, 0, baseline_mean), chaos=chaos, recovery=recovery)


def _slos(**kw: Any) -> Slos:
    return Slos.model_validate(kw)


# The worked examples of docs/scoring.md, row by row.
@pytest.mark.parametrize(("slos", "phases", "recovery_s", "parts", "total"), [
    pytest.param(Slos(), _phases(_phase(6000, 0, 0.020), _phase(3000, 0, 0.020)), 3.0,
                 (40.0, 40.0, 20.0), 100, id="perfect"),
    pytest.param(_slos(maxErrorRate=0.01, recoveryWithin="30s"),
                 _phases(_phase(6000, 30, 0.026), _phase(3000, 0, 0.020)), 12.0,
                 (26.667, 33.83, 20.0), 80, id="podkill-with-a-blip"),
    pytest.param(_slos(recoveryWithin="10s"), _phases(_phase(6000, 120, 0.050), _phase(3000, 60, 0.020)), 35.0,
                 (24.0, 9.8, 10.0), 44, id="slow-and-leaky"),
    pytest.param(Slos(), _phases(_phase(6000, 6000, 0.001), _phase(3000, 0, 0.020)), 5.0,
                 (0.0, 0.0, 20.0), 20, id="total-outage-quick-return"),
    pytest.param(Slos(), _phases(_phase(6000, 6000, None), _phase(3000, 3000, None)), None,
                 (0.0, 0.0, 0.0), 0, id="total-outage-never-back"),
])
def test_documented_examples(slos: Slos, phases: PhaseResults, recovery_s: float | None,
                             parts: tuple[float, float, float], total: int) -> None:
    got = score_parts(slos, phases, recovery_s, 60.0)
    assert (got.availability, got.latency, got.recovery) == pytest.approx(parts, abs=0.001)
    assert score(slos, phases, recovery_s, 60.0) == total


@pytest.mark.parametrize(("slos", "chaos_errors", "points"), [
    (_slos(maxErrorRate=0.0), 0, 40.0),  # zero budget, no error: full
    (_slos(maxErrorRate=0.0), 1, 0.0),  # zero budget, any error: nothing
    (_slos(maxErrorRate=0.01), 45, 40 * (1 - 0.5)),  # half the budget used: 45 / 9000 = 0.005
    (_slos(maxErrorRate=0.01), 90, 0.0),  # exactly the budget
    (_slos(maxErrorRate=0.01), 900, 0.0),  # over budget clamps at 0
    (Slos(), 225, 40 * (1 - 0.5)),  # default budget 0.05: 225 / 9000 = 0.025
])
def test_availability(slos: Slos, chaos_errors: int, points: float) -> None:
    phases = _phases(_phase(6000, chaos_errors, 0.020), _phase(3000, 0, 0.020))
    assert score_parts(slos, phases, 0.0, 60.0).availability == pytest.approx(points)


def test_no_requests_no_availability_points() -> None:
    phases = _phases(_phase(0, 0, None), _phase(0, 0, None))
    assert score_parts(Slos(), phases, 0.0, 60.0) == ScoreParts(0.0, 0.0, 20.0)


@pytest.mark.parametrize(("chaos_mean", "points"), [
    (0.010, 40.0),  # faster under chaos: no bonus beyond full points
    (0.020, 40.0), (0.030, 30.0), (0.040, 20.0), (0.060, 0.0), (0.200, 0.0),
])
def test_latency(chaos_mean: float, points: float) -> None:
    phases = _phases(_phase(6000, 0, chaos_mean), _phase(3000, 0, 0.020))
    assert score_parts(Slos(), phases, 0.0, 60.0).latency == pytest.approx(points)


def test_latency_points_need_a_baseline() -> None:
    phases = PhaseResults(baseline=_phase(3000, 0, None), chaos=_phase(6000, 0, 0.02), recovery=None)
    assert score_parts(Slos(), phases, 0.0, 60.0).latency == 0.0


@pytest.mark.parametrize(("recovery_s", "window", "within", "points"), [
    (None, 60.0, None, 0.0),
    (0.0, 60.0, None, 20.0),
    (59.0, 60.0, None, 20.0),  # without recoveryWithin, any recovery inside the window is enough
    (30.0, 60.0, 30.0, 20.0),
    (45.0, 60.0, 30.0, 10.0),  # halfway from the target to the end of the window
    (60.0, 60.0, 30.0, 0.0),
    (70.0, 60.0, 30.0, 0.0),
    (50.0, 60.0, 120.0, 20.0),  # a target beyond the window is the window
    (61.0, 60.0, None, 0.0),
])
def test_recovery_points(recovery_s: float | None, window: float, within: float | None, points: float) -> None:
    assert recovery_points(recovery_s, window, within) == pytest.approx(points)


@pytest.mark.parametrize(("parts", "total"), [
    (ScoreParts(40.0, 40.0, 0.5), 81),  # 80.5 rounds half up
    (ScoreParts(40.0, 40.0, 0.49), 80),
    (ScoreParts(0.0, 0.0, 0.0), 0),
    (ScoreParts(40.0, 40.0, 20.0), 100),
])
def test_total_rounds_half_up(parts: ScoreParts, total: int) -> None:
    assert parts.total == total


def test_score_is_monotonic_in_errors() -> None:
    totals = [score(Slos(), _phases(_phase(6000, e, 0.02), _phase(3000, 0, 0.02)), 1.0, 60.0)
              for e in range(0, 600, 25)]
    assert totals == sorted(totals, reverse=True)
    assert totals[0] == 100 and totals[-1] == 56  # A = 0, L = 40 × (1 − 575/6000), R = 20
