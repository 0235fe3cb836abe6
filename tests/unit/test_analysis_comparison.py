"""The bootstrap and the four classes against known answers: constant latency, no errors, one-second phases."""

from collections.abc import Callable

import pytest

from chaos_operator.analysis.bootstrap import block_length, percentile_interval, resample
from chaos_operator.analysis.buckets import bucket_of, histogram_of, quantile, value_of
from chaos_operator.analysis.comparison import compare, to_status
from chaos_operator.analysis.intervals import CONFIDENCE, wilson, z_for
from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import ComparisonClass

TIMEOUT = 2.0


def seconds(count: int, rate: int = 50, latency: Callable[[int, int], float] = lambda s, i: 0.020,
            errors: Callable[[int], int] = lambda s: 0, latencies: bool = True) -> list[SecondSample]:
    out = []
    for s in range(count):
        values = [latency(s, i) for i in range(rate)] if latencies else []
        out.append(SecondSample(offset_s=float(s), requests=rate, errors=errors(s), p95_s=None,
                                latency_count=len(values), latency_sum_s=sum(values), histogram=histogram_of(values)))
    return out


def classes(baseline: list[SecondSample], other: list[SecondSample], slos: Slos | None = None) -> dict[str, str]:
    findings = compare(resample(baseline, TIMEOUT), resample(other, TIMEOUT), "baselineVsChaos", slos or Slos())
    return {f.metric: f.verdict_class.value for f in findings}


def test_buckets_are_two_percent_wide_and_read_back_within_one_percent() -> None:
    for value in (0.000_05, 0.0013, 0.020, 0.5, 2.0):
        assert value_of(bucket_of(value)) == pytest.approx(value, rel=0.0101)
    assert bucket_of(0.0) == 0
    assert quantile(histogram_of([0.01] * 94 + [0.1] * 6), 0.95) == value_of(bucket_of(0.1))
    assert quantile((), 0.5) is None


def test_block_length_is_the_cube_root_of_the_phase_rounded_up() -> None:
    assert [block_length(n) for n in (1, 2, 8, 27, 60, 120, 600)] == [1, 2, 2, 3, 4, 5, 9]


def test_constant_latency_gives_a_zero_width_interval_and_equivalence() -> None:
    found = compare(resample(seconds(60), TIMEOUT), resample(seconds(60), TIMEOUT), "baselineVsChaos", Slos())
    for finding in found:
        assert finding.verdict_class is ComparisonClass.EQUIVALENT, finding
        if finding.metric != "errorRate":
            assert (finding.estimate, finding.lo, finding.hi) == (0.0, 0.0, 0.0)


def test_all_zero_errors_compare_within_the_wilson_bounds() -> None:
    finding = compare(resample(seconds(60), TIMEOUT), resample(seconds(60), TIMEOUT), "baselineVsChaos",
                      Slos())[-1]
    bound = wilson(0, 3000, z_for(CONFIDENCE)).hi
    assert finding.metric == "errorRate" and finding.estimate == 0.0
    assert finding.lo == pytest.approx(-bound) and finding.hi == pytest.approx(bound)
    assert finding.verdict_class is ComparisonClass.EQUIVALENT  # 0.15 points either way, within 1 point


def test_a_doubled_latency_is_degraded_on_every_quantile() -> None:
    found = classes(seconds(60), seconds(60, latency=lambda s, i: 0.040))
    assert found == {"latencyP50": "Degraded", "latencyP95": "Degraded", "latencyP99": "Degraded",
                     "errorRate": "Equivalent"}


def test_a_slower_tail_with_the_same_median_is_degraded_on_p99_only() -> None:
    tail = seconds(60, latency=lambda s, i: 0.200 if i == 0 else 0.020)  # 2 % of requests at 200 ms
    assert classes(seconds(60), tail) == {"latencyP50": "Equivalent", "latencyP95": "Equivalent",
                                          "latencyP99": "Degraded", "errorRate": "Equivalent"}


def test_a_solid_error_rise_is_degraded_and_a_small_one_inconclusive() -> None:
    assert classes(seconds(60), seconds(60, errors=lambda s: 5))["errorRate"] == "Degraded"  # +10 points
    assert classes(seconds(60), seconds(60, errors=lambda s: 1 if s % 2 else 0))["errorRate"] == "Inconclusive"


def test_a_one_off_outage_is_told_apart_from_a_spread_rise_that_straddles() -> None:
    """Both are Inconclusive on errors with the estimate beyond the tolerance; the outage's reason says its width
    comes from clustering the error-free baseline was lent (docs/scoring.md, "Known limit")."""
    def errors_of(chaos: list[SecondSample]) -> dict[str, object]:
        finding = compare(resample(seconds(60), TIMEOUT), resample(chaos, TIMEOUT), "baselineVsChaos", Slos())[-1]
        assert finding.metric == "errorRate" and finding.estimate is not None and finding.lo is not None
        return {"class": finding.verdict_class.value, "reason": finding.reason,
                "beyond": finding.estimate > finding.tolerance, "straddles": finding.lo <= finding.tolerance}

    outage = seconds(60, errors=lambda s: 50 if s == 10 else 0)  # every request of one second fails
    spread = seconds(60, errors=lambda s: 1 if s % 3 else 0)  # 1.3 % of requests, no burst
    assert errors_of(outage) == {"class": "Inconclusive", "reason": "ClusteredErrors", "beyond": True,
                                 "straddles": True}
    assert errors_of(spread) == {"class": "Inconclusive", "reason": "IntervalStraddles", "beyond": True,
                                 "straddles": True}


def test_one_second_phases_are_inconclusive_and_say_how_long_would_do() -> None:
    found = compare(resample(seconds(1, rate=500), TIMEOUT), resample(seconds(1, rate=500), TIMEOUT),
                    "baselineVsChaos", Slos())
    for finding in found:
        assert finding.verdict_class is ComparisonClass.INCONCLUSIVE
        assert finding.reason == "TooFewSeconds"
        assert finding.seconds_needed is not None and finding.seconds_needed >= 10


def test_too_few_samples_for_a_tail_quantile() -> None:
    found = {f.metric: f for f in compare(resample(seconds(20, rate=10), TIMEOUT),
                                          resample(seconds(20, rate=10), TIMEOUT), "baselineVsChaos", Slos())}
    assert found["latencyP50"].verdict_class is ComparisonClass.EQUIVALENT
    assert found["latencyP99"].verdict_class is ComparisonClass.INCONCLUSIVE  # 200 < 500 samples for a p99
    assert found["latencyP99"].reason == "TooFewSamples"


def test_no_latency_under_chaos_is_no_data_and_all_errors_are_degraded() -> None:
    outage = seconds(60, errors=lambda s: 50, latencies=False)
    assert classes(seconds(60), outage) == {"latencyP50": "NoData", "latencyP95": "NoData", "latencyP99": "NoData",
                                            "errorRate": "Degraded"}


def test_the_tolerance_comes_from_the_slos() -> None:
    slower = seconds(60, latency=lambda s, i: 0.040)  # +100 %
    assert classes(seconds(60), slower)["latencyP50"] == "Degraded"  # beyond the default 50 %
    assert classes(seconds(60), slower, Slos.model_validate({"maxLatencyDegradation": "150%"}))["latencyP50"] \
        == "Equivalent"
    more_errors = seconds(60, errors=lambda s: 5)  # +10 points
    assert classes(seconds(60), more_errors, Slos.model_validate({"maxErrorRate": 0.2}))["errorRate"] == "Equivalent"


def test_draws_are_seeded_so_a_verdict_repeats() -> None:
    noisy = seconds(60, latency=lambda s, i: 0.010 + 0.001 * ((s * 7 + i * 13) % 17))
    assert resample(noisy, TIMEOUT).draws == resample(noisy, TIMEOUT).draws
    assert resample(noisy, TIMEOUT, seed=1).draws != resample(noisy, TIMEOUT, seed=2).draws


def test_autocorrelated_seconds_widen_the_interval() -> None:
    # The same per-second medians, in long runs (slow minute halves) or interleaved: blocks see the difference.
    runs = seconds(60, latency=lambda s, i: 0.030 if s < 30 else 0.010)
    interleaved = seconds(60, latency=lambda s, i: 0.030 if s % 2 else 0.010)
    widths = []
    for phase in (runs, interleaved):
        interval = percentile_interval(resample(phase, TIMEOUT).draws["p50"], CONFIDENCE)
        assert interval is not None
        widths.append(interval[1] - interval[0])
    assert widths[0] > widths[1]


def test_the_status_form_rounds_and_names_the_phase_length() -> None:
    finding = compare(resample(seconds(1, rate=500), TIMEOUT), resample(seconds(1, rate=500), TIMEOUT),
                      "baselineVsRecovery", Slos())[-1]
    status = to_status(finding).to_api()
    assert status["class"] == "Inconclusive" and status["comparison"] == "baselineVsRecovery"
    assert status["samples"] == 500 and status["baselineSamples"] == 500 and status["reason"] == "TooFewSeconds"
    assert isinstance(status["phaseNeeded"], str) and status["phaseNeeded"].endswith("s")
