"""Mean-latency degradation under chaos and the grade derived from it (docs/scoring.md).

Failed requests count: a request that failed cost its user at least the wait for the timeout, so a phase's
mean is taken with each failed request at the load's timeout (see effective_mean and docs/scoring.md).
Otherwise a service that refuses connections in 0.1 ms would look faster under chaos than before it.
"""

from __future__ import annotations

from chaos_operator.models.status import Grade, PhaseResult

# Sub-millisecond baselines (a local demo server) would turn a 0.3 ms shift into "200 % slower";
# measuring against at least 1 ms keeps the figure about what users could notice.
MIN_BASELINE_S = 0.001
GOOD_BELOW = 0.5
MODERATE_BELOW = 2.0
OUTAGE_ERROR_RATE = 0.5  # at least this share of chaos requests failed: POOR, whatever the latency
DEFAULT_FAILED_AT_S = 2.0  # spec.load.timeout's default


def effective_mean(result: PhaseResult, failed_at_s: float) -> float | None:
    """m × (1 − e) + T × e: the phase's mean latency for its successful share, each failed request at T.

    None when the phase sent nothing; T alone when nothing was answered.
    """
    if result.requests <= 0:
        return None
    e = min(1.0, result.errors / result.requests)
    answered = failed_at_s if result.latency is None else float(result.latency.mean)
    return answered * (1.0 - e) + failed_at_s * e


def degradation(baseline_mean_s: float, chaos_mean_s: float) -> float:
    """(chaos − baseline) / max(baseline, 1 ms), as a fraction: 0.35 is 35 % slower; negative is faster."""
    # Rounded so 20 ms → 30 ms is exactly 0.5 (MODERATE), not 0.49999999999999994 (GOOD).
    return round((chaos_mean_s - baseline_mean_s) / max(baseline_mean_s, MIN_BASELINE_S), 9)


def grade(deg: float) -> Grade:
    """GOOD below 50 % degradation, MODERATE below 200 %, POOR from there."""
    if deg < GOOD_BELOW:
        return "GOOD"
    if deg < MODERATE_BELOW:
        return "MODERATE"
    return "POOR"
