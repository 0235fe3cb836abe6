"""Intervals for error rates: Wilson's score interval, Newcombe's hybrid for a difference, and the design effect.

Why these: the Wald interval p ± z·sqrt(p(1 − p)/n) collapses to [0, 0] at zero errors and misbehaves near
0 and 1, which is where error rates live. Wilson's interval inverts the score test instead, so 0 errors in n
requests still gives an upper bound of about z²/n. Newcombe's hybrid score interval (his method 10) combines
two Wilson intervals into one for p₂ − p₁ and keeps that behaviour at zero.

Requests in the same second share the service's state, so errors come in bursts and n requests carry less
information than n independent ones. The design effect (Kish) measures by how much: the variance of the
error rate estimated between blocks of whole seconds, over the binomial variance. Dividing both counts by
it gives the effective sample size the Wilson intervals then use (Korn and Graubard's effective-n
correction). It is never below 1 (no credit is taken
for a burst-free phase), and with no error at all there is nothing to estimate, so it is 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

CONFIDENCE = 0.95


def z_for(confidence: float = CONFIDENCE) -> float:
    """The two-sided normal quantile: 1.96 for 95 %."""
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0


def wilson(errors: float, requests: float, z: float | None = None) -> Interval:
    """Wilson score interval for errors / requests; [0, 1] when there was no request."""
    z = z_for() if z is None else z
    if requests <= 0:
        return Interval(0.0, 1.0)
    p = min(1.0, max(0.0, errors / requests))
    z2 = z * z
    denominator = 1.0 + z2 / requests
    centre = (p + z2 / (2.0 * requests)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / requests + z2 / (4.0 * requests * requests)) / denominator
    lo = 0.0 if errors <= 0 else max(0.0, centre - half)
    hi = 1.0 if errors >= requests else min(1.0, centre + half)
    return Interval(lo, hi)


def newcombe_difference(base_errors: float, base_requests: float, errors: float, requests: float,
                        z: float | None = None) -> tuple[float, Interval]:
    """p₂ − p₁ (the second rate minus the first, the baseline) and Newcombe's hybrid score interval for it."""
    p1 = base_errors / base_requests if base_requests > 0 else 0.0
    p2 = errors / requests if requests > 0 else 0.0
    first, second = wilson(base_errors, base_requests, z), wilson(errors, requests, z)
    difference = p2 - p1
    lo = difference - math.sqrt((p2 - second.lo) ** 2 + (first.hi - p1) ** 2)
    hi = difference + math.sqrt((second.hi - p2) ** 2 + (p1 - first.lo) ** 2)
    return difference, Interval(max(-1.0, lo), min(1.0, hi))


def design_effect(*phases: Sequence[tuple[int, int]]) -> float:
    """Variance inflation of error rates from (errors, requests) per block of whole seconds; at least 1.

    With several phases the estimate is pooled: each block is measured against its own phase's rate, and
    the excess variance of all of them is set against their binomial variance. A phase without a single
    error cannot show its clustering (zero-inflated errors: no burst happened to fall in it), so its
    interval borrows the clustering seen in the other phase rather than assuming none.
    """
    excess = binomial = 0.0
    for blocks in phases:
        used = [(x, m) for x, m in blocks if m > 0]
        total = sum(m for _, m in used)
        errors = sum(x for x, _ in used)
        if len(used) < 2 or errors <= 0 or errors >= total:
            continue
        p = errors / total
        k = len(used)
        excess += k / (k - 1) * sum((x - p * m) ** 2 for x, m in used)
        binomial += total * p * (1.0 - p)
    return 1.0 if binomial <= 0 else max(1.0, excess / binomial)


def error_blocks(errors: Sequence[int], requests: Sequence[int], block: int) -> list[tuple[int, int]]:
    """Per-second counts summed over consecutive blocks of ``block`` seconds (a short last block included)."""
    size = max(1, block)
    return [(sum(errors[i:i + size]), sum(requests[i:i + size])) for i in range(0, len(requests), size)]
