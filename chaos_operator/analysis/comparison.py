"""Each phase against the baseline, per metric: an estimate, its interval, n, and a class against a tolerance.

Latency p50, p95 and p99 are compared as the relative change of the quantile, with a percentile interval
from the moving-block bootstrap (bootstrap.py) of both phases: replicate i of the ratio is the phase's
replicate i over the baseline's. The error rate is compared as a difference of proportions with Newcombe's
hybrid score interval on the design-effect-corrected counts (intervals.py).

Classes, for a tolerance t and an interval [lo, hi] on the change:
    Degraded      lo > t                       (worse than the tolerance, beyond the uncertainty)
    Equivalent    −t <= lo and hi <= t         (the change is within the tolerance, whatever the noise)
    Inconclusive  otherwise, or too few samples or seconds to trust the interval; the reason ClusteredErrors
                  marks an error rise beyond the tolerance whose interval straddles with clustering that the
                  baseline did not show itself but was lent from the compared phase
    NoData        a phase has nothing to compare (no request, or no latency)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist

from chaos_operator.analysis.bootstrap import QUANTILES, PhaseDraws, percentile_interval
from chaos_operator.analysis.intervals import CONFIDENCE, design_effect, error_blocks, newcombe_difference, z_for
from chaos_operator.models.duration import Duration
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import Comparison, ComparisonClass, ComparisonMetric, ComparisonName

DEFAULT_LATENCY_TOLERANCE = 0.5  # 50 % slower: where the grade leaves GOOD
DEFAULT_ERROR_TOLERANCE = 0.01  # one percentage point more errors
MIN_SECONDS = 10  # fewer whole seconds in a phase and its blocks say nothing about autocorrelation
TAIL_SAMPLES = 5  # a quantile q needs 5 / (1 − q) samples: 10 for p50, 100 for p95, 500 for p99
POWER = 0.8  # "detectable": classed beyond the tolerance 80 % of the time
LATENCY_METRICS: dict[ComparisonMetric, str] = {"latencyP50": "p50", "latencyP95": "p95", "latencyP99": "p99"}

TOO_FEW = "TooFewSamples"
TOO_SHORT = "TooFewSeconds"
STRADDLES = "IntervalStraddles"
CLUSTERED = "ClusteredErrors"  # straddles because the baseline was lent clustering only the compared phase showed


@dataclass(frozen=True)
class Finding:
    metric: ComparisonMetric
    comparison: ComparisonName
    verdict_class: ComparisonClass
    tolerance: float
    n: int
    baseline_n: int
    estimate: float | None = None
    lo: float | None = None
    hi: float | None = None
    min_detectable: float | None = None
    seconds_needed: float | None = None  # phase length (both phases) at which min_detectable = tolerance
    reason: str | None = None


def latency_tolerance(slos: Slos) -> float:
    if slos.max_latency_degradation is not None:
        return float(slos.max_latency_degradation) / 100.0
    return DEFAULT_LATENCY_TOLERANCE


def error_tolerance(slos: Slos) -> float:
    return slos.max_error_rate if slos.max_error_rate is not None else DEFAULT_ERROR_TOLERANCE


def compare(baseline: PhaseDraws, other: PhaseDraws, name: ComparisonName, slos: Slos,
            confidence: float = CONFIDENCE) -> list[Finding]:
    findings = [compare_latency(baseline, other, name, metric, latency_tolerance(slos), confidence)
                for metric in LATENCY_METRICS]
    findings.append(compare_errors(baseline, other, name, error_tolerance(slos), confidence))
    return findings


def classify(lo: float, hi: float, tolerance: float) -> ComparisonClass:
    if lo > tolerance:
        return ComparisonClass.DEGRADED
    if -tolerance <= lo and hi <= tolerance:
        return ComparisonClass.EQUIVALENT
    return ComparisonClass.INCONCLUSIVE


def compare_latency(baseline: PhaseDraws, other: PhaseDraws, name: ComparisonName, metric: ComparisonMetric,
                    tolerance: float, confidence: float = CONFIDENCE) -> Finding:
    key = LATENCY_METRICS[metric]
    base_point, point = baseline.point[key], other.point[key]
    n, base_n = other.latency_n, baseline.latency_n
    if base_point is None or point is None or base_point <= 0:
        return Finding(metric, name, ComparisonClass.NO_DATA, tolerance, n, base_n)
    ratios = [b / a - 1.0 for a, b in zip(baseline.draws[key], other.draws[key], strict=False) if a > 0]
    interval = percentile_interval(ratios, confidence)
    estimate = point / base_point - 1.0
    if interval is None:
        return Finding(metric, name, ComparisonClass.INCONCLUSIVE, tolerance, n, base_n, estimate, reason=TOO_FEW)
    lo, hi = interval
    needed = math.ceil(TAIL_SAMPLES / (1.0 - QUANTILES[key]))
    return _judged(Finding(metric, name, ComparisonClass.INCONCLUSIVE, tolerance, n, base_n, estimate, lo, hi),
                   baseline, other, min(n, base_n) < needed, confidence)


def compare_errors(baseline: PhaseDraws, other: PhaseDraws, name: ComparisonName, tolerance: float,
                   confidence: float = CONFIDENCE) -> Finding:
    n, base_n = other.requests, baseline.requests
    if n <= 0 or base_n <= 0:
        return Finding("errorRate", name, ComparisonClass.NO_DATA, tolerance, n, base_n)
    d1 = d2 = effective_divisor(baseline, other)
    estimate, interval = newcombe_difference(baseline.errors / d1, base_n / d1, other.errors / d2, n / d2,
                                             z_for(confidence))
    finding = _judged(Finding("errorRate", name, ComparisonClass.INCONCLUSIVE, tolerance, n, base_n, estimate,
                              interval.lo, interval.hi), baseline, other, False, confidence)
    if finding.reason == STRADDLES and estimate > tolerance and d1 > effective_divisor(baseline):
        # Said apart because a one-off outage ends here at any phase length (docs/scoring.md, "Known limit").
        return replace(finding, reason=CLUSTERED)
    return finding


def effective_divisor(*phases: PhaseDraws) -> float:
    """The phases' pooled design effect over blocks of their bootstrap block length (1 when not estimable)."""
    return design_effect(*(error_blocks(p.errors_per_second, p.requests_per_second, p.block) for p in phases))


def detectable(lo: float, hi: float, confidence: float = CONFIDENCE) -> float:
    """(z + z_power) × standard error, the standard error read off the interval's width."""
    z = z_for(confidence)
    return (z + NormalDist().inv_cdf(POWER)) * (hi - lo) / (2.0 * z)


def seconds_for(min_detectable: float, target: float, seconds: int) -> float | None:
    """Phase length at which the detectable change shrinks to ``target`` (the standard error goes as 1/√n)."""
    if target <= 0 or seconds <= 0:
        return None
    return max(float(seconds), seconds * (min_detectable / target) ** 2)


def _judged(finding: Finding, baseline: PhaseDraws, other: PhaseDraws, too_few: bool,
            confidence: float) -> Finding:
    assert finding.lo is not None and finding.hi is not None
    mde = detectable(finding.lo, finding.hi, confidence)
    seconds = min(baseline.seconds, other.seconds)
    needed = seconds_for(mde, finding.tolerance, seconds)
    reason: str | None
    if too_few or seconds < MIN_SECONDS:
        klass, reason = ComparisonClass.INCONCLUSIVE, TOO_FEW if too_few else TOO_SHORT
        if not too_few and needed is not None:
            needed = max(needed, float(MIN_SECONDS))
    else:
        klass = classify(finding.lo, finding.hi, finding.tolerance)
        reason = STRADDLES if klass is ComparisonClass.INCONCLUSIVE else None
    return Finding(finding.metric, finding.comparison, klass, finding.tolerance, finding.n, finding.baseline_n,
                   finding.estimate, finding.lo, finding.hi, mde, needed, reason)


def to_status(finding: Finding) -> Comparison:
    """The status form: figures to 6 significant digits, the phase length as a duration."""
    interval = None if finding.lo is None or finding.hi is None else [_short(finding.lo), _short(finding.hi)]
    needed = None if finding.seconds_needed is None else Duration(float(math.ceil(finding.seconds_needed)))
    return Comparison(metric=finding.metric, comparison=finding.comparison, class_=finding.verdict_class,
                      tolerance=_short(finding.tolerance), samples=finding.n,
                      baseline_samples=finding.baseline_n,
                      estimate=None if finding.estimate is None else _short(finding.estimate), interval=interval,
                      min_detectable=None if finding.min_detectable is None else _short(finding.min_detectable),
                      phase_needed=needed, reason=finding.reason)


def _short(value: float) -> float:
    return float(f"{value:.6g}")
