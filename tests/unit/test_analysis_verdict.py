from typing import Any

import pytest

from chaos_operator.analysis.verdict import MESSAGE_LIMIT, MIN_SAMPLES, baseline_gate, decide, grade_of
from chaos_operator.models.duration import Duration
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import Latency, PhaseResult, PhaseResults


def _phase(requests: int = 3000, errors: int = 0, mean: float | None = 0.020, p95: float = 0.050) -> PhaseResult:
    lat = None
    if mean is not None:
        lat = Latency(mean=Duration(mean), p50=Duration(mean), p90=Duration(p95), p95=Duration(p95),
                      p99=Duration(p95), max=Duration(p95))
    return PhaseResult(started_at="t0", finished_at="t1", requests=requests, errors=errors,
                       error_rate=errors / requests if requests else 0.0, throughput=50.0, latency=lat)


def _phases(**kw: PhaseResult | None) -> PhaseResults:
    values: dict[str, PhaseResult | None] = {"baseline": _phase(), "chaos": _phase(), "recovery": _phase()}
    values.update(kw)
    return PhaseResults(**values)


def _slos(**kw: Any) -> Slos:
    return Slos.model_validate(kw)


@pytest.mark.parametrize(("slos", "phases", "recovery_s", "verdict", "reason"), [
    (Slos(), _phases(), 3.0, "Passed", "SLOsHeld"),
    (_slos(maxErrorRate=0.01), _phases(chaos=_phase(errors=30)), 3.0, "Passed", "SLOsHeld"),  # exactly 0.01
    (_slos(maxErrorRate=0.01), _phases(chaos=_phase(errors=31)), 3.0, "Failed", "SLOsViolated"),
    (Slos(), _phases(), None, "Failed", "SLOsViolated"),  # the implicit `recovered` check
    (_slos(recoveryWithin="10s"), _phases(), 10.5, "Failed", "SLOsViolated"),
    (Slos(), _phases(chaos=_phase(requests=99)), 3.0, "Inconclusive", "TooFewSamples"),
    (Slos(), _phases(chaos=_phase(requests=MIN_SAMPLES)), 3.0, "Passed", "SLOsHeld"),
    (Slos(), _phases(recovery=None), 3.0, "Inconclusive", "TooFewSamples"),
    # too few samples wins over failed checks: the figures cannot be trusted either way
    (_slos(maxErrorRate=0.0), _phases(baseline=_phase(requests=50), chaos=_phase(errors=3000)), None,
     "Inconclusive", "TooFewSamples"),
])
def test_decide_reasons(slos: Slos, phases: PhaseResults, recovery_s: float | None, verdict: str,
                        reason: str) -> None:
    outcome = decide(slos, phases, recovery_s, 60.0)
    assert (outcome.verdict, outcome.reason) == (verdict, reason)
    assert outcome.recovery_time == recovery_s
    assert outcome.message.endswith(".") and "\n" not in outcome.message


def test_passed_message_and_figures() -> None:
    outcome = decide(_slos(maxErrorRate=0.01), _phases(), 12.0, 60.0)
    assert outcome.message == "All 3 checks passed; score 100, grade GOOD, recovered after 12s."
    assert (outcome.score, outcome.grade, len(outcome.checks)) == (100, "GOOD", 3)
    only = decide(Slos(), _phases(), 0.0, 60.0)
    assert only.message == "The only check passed; score 100, grade GOOD, recovered after 0ms."


def test_failed_message_names_checks_with_observed_and_limit() -> None:
    outcome = decide(_slos(maxErrorRate=0.01, maxLatencyP95="100ms"),
                     _phases(chaos=_phase(errors=90, p95=0.2)), None, 60.0)
    assert outcome.message == (
        "3 of 5 checks failed: maxErrorRate (chaos) 0.0300 vs limit 0.0100; "
        "maxLatencyP95 (chaos) 200ms vs limit 100ms; recovered (recovery) not recovered vs limit 1m.")
    # 3 % of the requests failed, each counted at the 2 s timeout: the effective mean is 79 ms against 20 ms.
    assert outcome.score is not None and outcome.grade == "POOR"


def test_too_few_samples_message() -> None:
    one = decide(Slos(), _phases(chaos=_phase(requests=42)), 1.0, 60.0)
    assert one.message == ("Too few requests to judge: the chaos phase had 42 requests, "
                           "fewer than the 100 each phase needs.")
    assert (one.score, one.grade) == (None, None)
    two = decide(Slos(), _phases(baseline=_phase(requests=1), recovery=None), 1.0, 60.0)
    assert two.message == ("Too few requests to judge: the baseline phase had 1 request and the recovery phase had "
                           "0 requests, fewer than the 100 each phase needs.")


def test_message_is_bounded() -> None:
    slos = _slos(maxErrorRate=0.0, maxLatencyP95="1ms", maxLatencyP99="1ms", maxLatencyDegradation="0%",
                 recoveryWithin="1ms")
    phases = _phases(chaos=_phase(errors=3000, mean=None), recovery=_phase(errors=3000, mean=None))
    assert len(decide(slos, phases, None, 3600.0).message) <= MESSAGE_LIMIT


@pytest.mark.parametrize(("chaos_mean", "grade"), [(0.0298, "GOOD"), (0.030, "MODERATE"), (0.0598, "MODERATE"),
                                                   (0.060, "POOR"), (None, "POOR")])
def test_grade_of(chaos_mean: float | None, grade: str) -> None:
    assert grade_of(_phases(chaos=_phase(mean=chaos_mean))) == grade


def test_grade_of_without_baseline_latency() -> None:
    assert grade_of(_phases(baseline=_phase(mean=None))) is None
    assert grade_of(_phases(chaos=None)) is None


@pytest.mark.parametrize(("slos", "baseline", "reason"), [
    (Slos(), _phase(), None),
    (_slos(maxErrorRate=0.01, maxLatencyP95="500ms"), _phase(errors=30, p95=0.5), None),  # on the limits
    (_slos(maxErrorRate=0.01), _phase(errors=31), "BaselineUnhealthy"),
    (_slos(maxLatencyP95="40ms"), _phase(p95=0.050), "BaselineUnhealthy"),
    (Slos(), _phase(requests=MIN_SAMPLES - 1), "TooFewSamples"),
])
def test_baseline_gate(slos: Slos, baseline: PhaseResult, reason: str | None) -> None:
    outcome = baseline_gate(slos, baseline)
    if reason is None:
        assert outcome is None
    else:
        assert outcome is not None and (outcome.verdict, outcome.reason) == ("Inconclusive", reason)


def test_baseline_gate_messages() -> None:
    unhealthy = baseline_gate(_slos(maxErrorRate=0.01, maxLatencyP95="40ms"), _phase(errors=300, p95=0.05))
    assert unhealthy is not None
    assert unhealthy.message == ("The baseline already breaks the SLOs, so nothing was injected: "
                                 "maxErrorRate (baseline) 0.1000 vs limit 0.0100; "
                                 "maxLatencyP95 (baseline) 50ms vs limit 40ms.")
    assert [c.passed for c in unhealthy.checks] == [False, False]
    thin = baseline_gate(Slos(), _phase(requests=12))
    assert thin is not None
    assert thin.message == ("The baseline phase had 12 requests, fewer than the 100 needed to judge, "
                            "so nothing was injected.")


@pytest.mark.parametrize("baseline_mean", [0.0005, 0.020, 0.5, 1.5, 1.99])
@pytest.mark.parametrize(("error_pct", "failed_latency"), [(100, None), (50, 0.0001), (60, 0.020), (99, 0.0001)])
def test_an_outage_never_grades_good(baseline_mean: float, error_pct: int, failed_latency: float | None) -> None:
    # Answers that come back fast (refused connections, instant 503s) must not make an outage look quick.
    requests = 3000
    errors = requests * error_pct // 100
    chaos = _phase(requests=requests, errors=errors, mean=failed_latency)
    assert grade_of(_phases(baseline=_phase(mean=baseline_mean), chaos=chaos), failed_at_s=2.0) == "POOR"


@pytest.mark.parametrize(("error_pct", "grade"), [(0, "GOOD"), (1, "MODERATE"), (5, "POOR"), (20, "POOR")])
def test_failed_requests_count_at_the_timeout_in_the_grade(error_pct: int, grade: str) -> None:
    # 20 ms before and during chaos, failures answered in 1 ms: only the failures move the grade.
    chaos = _phase(errors=3000 * error_pct // 100, mean=0.020)
    assert grade_of(_phases(chaos=chaos), failed_at_s=2.0) == grade


def test_failed_requests_count_in_the_degradation_check() -> None:
    outcome = decide(_slos(maxLatencyDegradation="50%"), _phases(chaos=_phase(errors=30)), 1.0, 60.0, failed_at_s=1.0)
    degradation = next(c for c in outcome.checks if c.name == "maxLatencyDegradation")
    # 1 % failed at 1 s: 20 ms x 0.99 + 1 s x 0.01 = 29.8 ms, 49 % over the 20 ms baseline.
    assert (degradation.observed, degradation.passed) == ("49.0%", True)
    worse = decide(_slos(maxLatencyDegradation="50%"), _phases(chaos=_phase(errors=31)), 1.0, 60.0, failed_at_s=1.0)
    assert not next(c for c in worse.checks if c.name == "maxLatencyDegradation").passed
