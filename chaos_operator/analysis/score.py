"""A 0–100 resilience score: how much of its availability, speed and recovery the service kept.

    score = round_half_up(A + L + R), clamped to 0..100

Availability, A (40 points)
    e = (errors in chaos + errors in recovery) / (requests in chaos + requests in recovery)
    b = slos.maxErrorRate if set, else 0.05 (the error budget)
    A = 40 × (1 − min(1, e / b)); with b = 0 any error gives 0 points; no requests gives 0 points.

Latency, L (40 points)
    d = max(0, degradation(baseline mean, chaos mean))   (see grade.py: fraction, 1 ms floor)
    L = 40 × max(0, 1 − d / 2) × (1 − chaos error rate)
    Linear to 0 at 200 % slower, where the grade turns POOR. Only served requests earn latency
    points: without the last factor a service that fails every request *quickly* would score full
    latency points during a total outage. No completed request in baseline or chaos gives 0 points.

Recovery, R (20 points)
    W = the recovery phase length; T = min(slos.recoveryWithin, W) if set, else W
    r = the recovery time; never recovered gives 0 points
    R = 20 if r ≤ T, else 20 × (W − r) / (W − T), down to 0 at the end of the recovery phase.

docs/scoring.md has worked examples; tests/unit/test_analysis_score.py checks them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chaos_operator.analysis.grade import degradation
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import PhaseResults

AVAILABILITY_POINTS = 40.0
LATENCY_POINTS = 40.0
RECOVERY_POINTS = 20.0
DEFAULT_ERROR_BUDGET = 0.05
LATENCY_ZERO_AT = 2.0  # degradation (fraction) that leaves no latency points


@dataclass(frozen=True)
class ScoreParts:
    availability: float
    latency: float
    recovery: float

    @property
    def total(self) -> int:
        # Half-up rather than Python's round-half-even: 80.5 reads as 81 to everyone.
        return max(0, min(100, math.floor(self.availability + self.latency + self.recovery + 0.5)))


def score(slos: Slos, phases: PhaseResults, recovery_s: float | None, recovery_window_s: float) -> int:
    return score_parts(slos, phases, recovery_s, recovery_window_s).total


def score_parts(slos: Slos, phases: PhaseResults, recovery_s: float | None, recovery_window_s: float) -> ScoreParts:
    return ScoreParts(
        availability=availability_points(slos, phases),
        latency=latency_points(phases),
        recovery=recovery_points(recovery_s, recovery_window_s, slos.recovery_within),
    )


def availability_points(slos: Slos, phases: PhaseResults) -> float:
    measured = [p for p in (phases.chaos, phases.recovery) if p is not None]
    requests = sum(p.requests for p in measured)
    if requests == 0:
        return 0.0  # nothing measured is no evidence of availability
    errors = sum(p.errors for p in measured)
    budget = slos.max_error_rate if slos.max_error_rate is not None else DEFAULT_ERROR_BUDGET
    if budget <= 0:
        return AVAILABILITY_POINTS if errors == 0 else 0.0
    used = min(1.0, errors / requests / budget)
    return AVAILABILITY_POINTS * (1 - used)


def latency_points(phases: PhaseResults) -> float:
    baseline, chaos = phases.baseline, phases.chaos
    if baseline is None or chaos is None or baseline.latency is None or chaos.latency is None:
        return 0.0
    deg = max(0.0, degradation(baseline.latency.mean, chaos.latency.mean))
    served = 1 - min(1.0, chaos.error_rate)
    return LATENCY_POINTS * max(0.0, 1 - deg / LATENCY_ZERO_AT) * served


def recovery_points(recovery_s: float | None, window_s: float, within_s: float | None) -> float:
    if recovery_s is None:
        return 0.0
    target = window_s if within_s is None else min(float(within_s), window_s)
    if recovery_s <= target:
        return RECOVERY_POINTS
    if window_s <= target:
        return 0.0  # recovered after the end of the window: cannot happen with sane inputs
    left = (window_s - recovery_s) / (window_s - target)
    return RECOVERY_POINTS * max(0.0, min(1.0, left))
