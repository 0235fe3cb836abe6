"""SLO checks decided by their intervals: held, broken beyond the interval, or undecided (Inconclusive)."""

from collections.abc import Callable

from chaos_operator.analysis.bootstrap import resample
from chaos_operator.analysis.buckets import histogram_of
from chaos_operator.analysis.evidence import slo_evidence
from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.analysis.verdict import NOT_ENOUGH_EVIDENCE, decide
from chaos_operator.models.duration import Duration
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import Latency, PhaseResult, PhaseResults

TIMEOUT = 2.0


def seconds(count: int, rate: int = 50, latency: float = 0.020,
            errors: Callable[[int], int] = lambda s: 0) -> list[SecondSample]:
    return [SecondSample(offset_s=float(s), requests=rate, errors=errors(s), p95_s=latency, latency_count=rate,
                         latency_sum_s=latency * rate, histogram=histogram_of([latency] * rate))
            for s in range(count)]


def summary(samples: list[SecondSample]) -> PhaseResult:
    requests = sum(s.requests for s in samples)
    errors = sum(s.errors for s in samples)
    value = Duration(samples[0].p95_s or 0.0)
    return PhaseResult(started_at="t0", finished_at="t1", requests=requests, errors=errors,
                       error_rate=errors / requests, throughput=50.0,
                       latency=Latency(mean=value, p50=value, p90=value, p95=value, p99=value, max=value))


def judge(slos: Slos, chaos: list[SecondSample], base: list[SecondSample] | None = None,
          recovery: list[SecondSample] | None = None) -> tuple[str, str, str]:
    phases = {"baseline": base or seconds(60), "chaos": chaos, "recovery": recovery or seconds(60)}
    evidence = slo_evidence(slos, {name: resample(s, TIMEOUT) for name, s in phases.items()})
    outcome = decide(slos, PhaseResults(**{name: summary(s) for name, s in phases.items()}), 3.0, 60.0,
                     failed_at_s=TIMEOUT, evidence=evidence)
    return outcome.verdict.value, outcome.reason, outcome.message


def slos(**kw: object) -> Slos:
    return Slos.model_validate(kw)


def test_zero_errors_hold_a_zero_error_limit() -> None:
    assert judge(slos(maxErrorRate=0.0), seconds(60))[:2] == ("Passed", "SLOsHeld")
    assert judge(slos(maxErrorRate=0.0), seconds(60, errors=lambda s: 1 if s == 7 else 0))[:2] \
        == ("Failed", "SLOsViolated")


def test_an_error_rate_near_its_limit_is_undecided_and_says_what_would_decide() -> None:
    # 0.9 % against a 1 % limit over 3000 requests: below it, but not beyond the noise.
    verdict, reason, message = judge(slos(maxErrorRate=0.01), seconds(60, errors=lambda s: 1 if s % 20 < 9 else 0))
    assert (verdict, reason) == ("Inconclusive", NOT_ENOUGH_EVIDENCE)
    assert "maxErrorRate (chaos)" in message and "a phase of about" in message and "detectable" in message


def test_an_error_rate_over_its_limit_but_inside_the_noise_does_not_fail() -> None:
    # 1.1 % against 1 %: today's point rule says Failed; the interval reaches below the limit.
    verdict, reason, _ = judge(slos(maxErrorRate=0.01), seconds(60, errors=lambda s: 1 if s % 20 < 11 else 0))
    assert (verdict, reason) == ("Inconclusive", NOT_ENOUGH_EVIDENCE)


def test_an_error_rate_far_beyond_its_limit_fails_with_its_interval() -> None:
    verdict, reason, message = judge(slos(maxErrorRate=0.01), seconds(60, errors=lambda s: 5))
    assert (verdict, reason) == ("Failed", "SLOsViolated")
    assert "maxErrorRate (chaos) 0.1000 [" in message


def test_constant_latency_holds_a_latency_limit_even_in_one_second_phases() -> None:
    one = seconds(1, rate=200)
    assert judge(slos(maxLatencyP95="500ms"), one, base=one, recovery=one)[:2] == ("Passed", "SLOsHeld")


def test_the_same_p95_over_its_limit_is_undecided_in_two_seconds_and_broken_in_sixty() -> None:
    # 93 % of requests at 480 ms, 7 % at 520 ms: the p95 is 520 ms, over a 500 ms limit, but only by 2 points
    # of the distribution; 100 requests cannot tell that from a p95 of 480 ms, 3000 can.
    def mixed(count: int) -> list[SecondSample]:
        values = [0.480] * 93 + [0.520] * 7
        return [SecondSample(offset_s=float(s), requests=100, errors=0, p95_s=0.52, latency_count=100,
                             latency_sum_s=sum(values), histogram=histogram_of(values)) for s in range(count)]
    limit = slos(maxLatencyP95="500ms")
    assert [e.state for e in slo_evidence(limit, {"chaos": resample(mixed(1), TIMEOUT)})] == ["undecided"]
    assert [e.state for e in slo_evidence(limit, {"chaos": resample(mixed(60), TIMEOUT)})] == ["broken"]


def test_latency_degradation_uses_the_interval_of_the_effective_mean() -> None:
    assert judge(slos(maxLatencyDegradation="50%"), seconds(60, latency=0.021))[:2] == ("Passed", "SLOsHeld")
    assert judge(slos(maxLatencyDegradation="50%"), seconds(60, latency=0.060))[:2] == ("Failed", "SLOsViolated")


def test_without_per_second_figures_the_point_figures_decide_as_before() -> None:
    phases = PhaseResults(baseline=summary(seconds(60)), chaos=summary(seconds(60, errors=lambda s: 1)),
                          recovery=summary(seconds(60)))
    assert decide(slos(maxErrorRate=0.01), phases, 3.0, 60.0).verdict.value == "Failed"  # 2 % > 1 %
