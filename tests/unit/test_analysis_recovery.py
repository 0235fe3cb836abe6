from typing import Any

import pytest

from chaos_operator.analysis.recovery import (
    NOT_APPLICABLE,
    SecondSample,
    WorkloadRecovery,
    error_tolerance,
    latency_tolerance,
    recovery_time,
    service_recovered_after,
)
from chaos_operator.models.duration import Duration
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import Latency, PhaseResult

OK = (50, 0, 0.020)  # one healthy second at 50 requests/s: (requests, errors, p95 seconds)
DOWN = (50, 50, None)  # every request failed
SLOW = (50, 0, 0.100)
EMPTY = (0, 0, None)  # nothing completed: a stall


def _baseline(error_rate: float = 0.0, p95: float | None = 0.020) -> PhaseResult:
    latency = None
    if p95 is not None:
        d = Duration(p95)
        latency = Latency(mean=d, p50=d, p90=d, p95=d, p99=d, max=d)
    return PhaseResult(started_at="t0", finished_at="t1", requests=3000, errors=round(3000 * error_rate),
                       error_rate=error_rate, throughput=50.0, latency=latency)


def _timeline(*seconds: tuple[int, int, float | None]) -> list[SecondSample]:
    return [SecondSample(float(i), req, err, p95) for i, (req, err, p95) in enumerate(seconds)]


def _slos(**kw: Any) -> Slos:
    return Slos.model_validate(kw)


@pytest.mark.parametrize(("seconds", "expected"), [
    pytest.param([OK] * 10, 0.0, id="immediate"),
    pytest.param([DOWN] * 5 + [OK] * 10, 5.0, id="late"),
    pytest.param([SLOW] * 3 + [OK] * 10, 3.0, id="late-latency"),
    pytest.param([OK] * 3 + [DOWN] * 2 + [OK] * 5, 5.0, id="flapping"),
    pytest.param([DOWN, OK] * 5, 9.0, id="flapping-until-the-last-second"),
    pytest.param([OK, DOWN] * 5, None, id="flapping-to-the-end"),
    pytest.param([DOWN] * 10, None, id="never"),
    pytest.param([OK] * 9 + [DOWN], None, id="relapse-in-the-last-second"),
    pytest.param([OK] * 4 + [EMPTY] + [OK] * 5, 5.0, id="stall-in-the-middle"),
    pytest.param([OK] * 10 + [EMPTY], None, id="stall-at-the-end"),
    pytest.param([EMPTY] * 10, None, id="no-requests-at-all"),
    pytest.param([], None, id="no-samples"),
    pytest.param([(50, 0, None)] * 5, None, id="no-latency-is-no-evidence"),
    # One stray error (2 % of that second) in an otherwise clean remainder does not move recovery...
    pytest.param([DOWN] * 3 + [OK] * 10 + [(50, 1, 0.020)] + [OK] * 20, 3.0, id="stray-error-absorbed"),
    # ...and one slow second among many fast ones does not either.
    pytest.param([DOWN] * 3 + [OK] * 10 + [(50, 0, 0.2)] + [OK] * 20, 3.0, id="stray-slow-second-absorbed"),
    # A second must be healthy itself: a good average cannot start at a bad second.
    pytest.param([(50, 5, 0.020)] + [OK] * 59, 1.0, id="first-second-bad-on-its-own"),
])
def test_service_recovered_after(seconds: list[tuple[int, int, float | None]], expected: float | None) -> None:
    assert service_recovered_after(_baseline(), _timeline(*seconds), Slos()) == expected


def test_samples_in_any_order() -> None:
    samples = _timeline(*([DOWN] * 2 + [OK] * 5))
    assert service_recovered_after(_baseline(), list(reversed(samples)), Slos()) == 2.0


@pytest.mark.parametrize(("baseline", "slos", "errors", "latency"), [
    (_baseline(), Slos(), 0.01, 0.030),  # defaults: baseline + 1 point, p95 × 1.5
    (_baseline(error_rate=0.02), Slos(), 0.03, 0.030),
    (_baseline(), _slos(maxErrorRate=0.05), 0.05, 0.030),
    (_baseline(), _slos(maxErrorRate=0.0), 0.0, 0.030),
    (_baseline(), _slos(maxLatencyDegradation="100%"), 0.01, 0.040),
    (_baseline(p95=0.0001), Slos(), 0.01, 0.0051),  # never closer than 5 ms to a µs baseline
    (_baseline(p95=None), Slos(), 0.01, None),
])
def test_tolerances(baseline: PhaseResult, slos: Slos, errors: float, latency: float | None) -> None:
    assert error_tolerance(baseline, slos) == pytest.approx(errors)
    assert latency_tolerance(baseline, slos) == pytest.approx(latency)


@pytest.mark.parametrize(("second", "slos", "baseline", "healthy"), [
    ((100, 1, 0.020), Slos(), _baseline(), True),  # exactly at the 1 % tolerance
    ((100, 2, 0.020), Slos(), _baseline(), False),
    ((50, 4, 0.020), _slos(maxErrorRate=0.1), _baseline(), True),
    ((50, 1, 0.020), _slos(maxErrorRate=0.0), _baseline(), False),
    ((50, 0, 0.030), Slos(), _baseline(), True),  # exactly at p95 × 1.5
    ((50, 0, 0.031), Slos(), _baseline(), False),
    ((50, 0, 0.035), _slos(maxLatencyDegradation="100%"), _baseline(), True),
    ((50, 0, 0.003), Slos(), _baseline(p95=0.0001), True),
    ((50, 0, 0.006), Slos(), _baseline(p95=0.0001), False),
    ((50, 0, None), Slos(), _baseline(p95=None), True),  # nothing to compare latency with
])
def test_tolerance_boundaries(second: tuple[int, int, float | None], slos: Slos, baseline: PhaseResult,
                              healthy: bool) -> None:
    expected = 0.0 if healthy else None
    assert service_recovered_after(baseline, _timeline(*[second] * 5), slos) == expected


@pytest.mark.parametrize(("service", "workload", "expected"), [
    (None, NOT_APPLICABLE, None),
    (5.0, NOT_APPLICABLE, 5.0),
    (5.0, None, None),  # the workload never got its Ready pods back
    (None, 3.0, None),
    (5.0, 12.0, 12.0),
    (12.0, 5.0, 12.0),
    (5.0, -3.0, 5.0),  # pods were back before the recovery phase began
    (0.0, 0.0, 0.0),
])
def test_recovery_time(service: float | None, workload: WorkloadRecovery, expected: float | None) -> None:
    assert recovery_time(service, workload) == expected
