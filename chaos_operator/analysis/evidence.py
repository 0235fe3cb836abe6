"""Each SLO check with an interval: held, broken, or undecided at this sample size.

A check holds when its whole interval is on the safe side of the limit (hi <= limit), is broken when the
whole interval is beyond it (lo > limit), and is undecided otherwise. The intervals:

- maxErrorRate (chaos, recovery): Wilson's interval on the phase's errors and requests divided by the design
  effect pooled over every phase (intervals.py). A limit of 0 is a rule about counts, not rates: zero errors
  hold it and one error breaks it (no interval of a rate lies wholly at or below 0).
- maxLatencyP95 / maxLatencyP99 (chaos, recovery): the block-bootstrap percentile interval of the phase's
  quantile, widened where needed to the distribution-free interval of independent requests (the ranks
  n·q ± z·√(n·q·(1 − q)) of the phase's histogram), so that a phase of one or two seconds, where blocks
  cannot show any spread, is not taken as certain.
- maxLatencyDegradation: the bootstrap interval of the effective-mean degradation, replicate by replicate.

recoveryWithin and recovered have no interval: they are decided as measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from chaos_operator.analysis.bootstrap import MEAN, PhaseDraws, percentile_interval
from chaos_operator.analysis.buckets import value_of
from chaos_operator.analysis.comparison import detectable, effective_divisor, seconds_for
from chaos_operator.analysis.grade import MIN_BASELINE_S
from chaos_operator.analysis.intervals import CONFIDENCE, wilson, z_for
from chaos_operator.models.spec import Slos

State = Literal["held", "broken", "undecided"]
PHASES = ("chaos", "recovery")


@dataclass(frozen=True)
class Evidence:
    name: str
    phase: str
    lo: float
    hi: float
    limit: float
    state: State
    min_detectable: float | None = None  # the distance from the limit this many samples would reliably show
    seconds_needed: float | None = None  # phase length at which the interval would decide the check


def slo_evidence(slos: Slos, draws: Mapping[str, PhaseDraws], confidence: float = CONFIDENCE) -> list[Evidence]:
    """Evidence for every SLO check that has an interval and whose phases were measured per second."""
    found: list[Evidence] = []
    z = z_for(confidence)
    if slos.max_error_rate is not None:
        divisor = effective_divisor(*draws.values())
        for phase in PHASES:
            if phase in draws and draws[phase].requests > 0:
                found.append(_error_rate(draws[phase], phase, float(slos.max_error_rate), divisor, confidence))
    for name, bound, key, q in (("maxLatencyP95", slos.max_latency_p95, "p95", 0.95),
                                ("maxLatencyP99", slos.max_latency_p99, "p99", 0.99)):
        if bound is None:
            continue
        for phase in PHASES:
            if phase in draws and draws[phase].latency_n > 0:
                found.append(_quantile(draws[phase], phase, name, key, q, float(bound), z, confidence))
    if slos.max_latency_degradation is not None and "baseline" in draws and "chaos" in draws:
        evidence = _degradation(draws["baseline"], draws["chaos"], float(slos.max_latency_degradation) / 100,
                                confidence)
        if evidence is not None:
            found.append(evidence)
    return found


def decide(lo: float, hi: float, limit: float) -> State:
    if hi <= limit:
        return "held"
    if lo > limit:
        return "broken"
    return "undecided"


def _error_rate(phase: PhaseDraws, name: str, limit: float, divisor: float, confidence: float) -> Evidence:
    rate = phase.errors / phase.requests
    interval = wilson(phase.errors / divisor, phase.requests / divisor, z_for(confidence))
    if limit <= 0:
        state: State = "held" if phase.errors == 0 else "broken"
        return Evidence("maxErrorRate", name, interval.lo, interval.hi, limit, state)
    return _with_power(Evidence("maxErrorRate", name, interval.lo, interval.hi, limit,
                                decide(interval.lo, interval.hi, limit)), rate, phase.seconds, confidence)


def _quantile(phase: PhaseDraws, name: str, check: str, key: str, q: float, limit: float, z: float,
              confidence: float) -> Evidence:
    boot = percentile_interval(phase.draws[key], confidence)
    lo, hi = _order_statistic_interval(phase, q, z)
    if boot is not None:
        lo, hi = min(lo, boot[0]), max(hi, boot[1])
    point = phase.point[key]
    evidence = Evidence(check, name, lo, hi, limit, decide(lo, hi, limit))
    return evidence if point is None else _with_power(evidence, point, phase.seconds, confidence)


def _order_statistic_interval(phase: PhaseDraws, q: float, z: float) -> tuple[float, float]:
    n = phase.latency_n
    spread = z * math.sqrt(n * q * (1.0 - q))
    lo_rank, hi_rank = max(1, math.floor(n * q - spread)), min(n, math.ceil(n * q + spread))
    values: list[float] = []
    seen = 0
    wanted = [lo_rank, hi_rank]
    for index, count in phase.whole:
        seen += count
        while wanted and seen >= wanted[0]:
            values.append(value_of(index))
            wanted.pop(0)
    while len(values) < 2:
        values.append(value_of(phase.whole[-1][0]))
    return values[0], values[1]


def _degradation(baseline: PhaseDraws, chaos: PhaseDraws, limit: float, confidence: float) -> Evidence | None:
    base, under = baseline.point[MEAN], chaos.point[MEAN]
    if base is None or under is None:
        return None
    replicates = [(b - a) / max(a, MIN_BASELINE_S) for a, b in zip(baseline.draws[MEAN], chaos.draws[MEAN],
                                                                      strict=False)]
    interval = percentile_interval(replicates, confidence)
    if interval is None:
        return None
    point = (under - base) / max(base, MIN_BASELINE_S)
    evidence = Evidence("maxLatencyDegradation", "chaos", interval[0], interval[1], limit,
                        decide(interval[0], interval[1], limit))
    return _with_power(evidence, point, min(baseline.seconds, chaos.seconds), confidence)


def _with_power(evidence: Evidence, point: float, seconds: int, confidence: float) -> Evidence:
    mde = detectable(evidence.lo, evidence.hi, confidence)
    needed = seconds_for(mde, abs(point - evidence.limit), seconds) if evidence.state == "undecided" else None
    return Evidence(evidence.name, evidence.phase, evidence.lo, evidence.hi, evidence.limit, evidence.state,
                    mde, needed)
