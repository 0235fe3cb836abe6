"""Mean-latency degradation under chaos and the grade derived from it (design §2)."""

from __future__ import annotations

from chaos_operator.models.status import Grade

# Sub-millisecond baselines (a local demo server) would turn a 0.3 ms shift into "200 % slower";
# measuring against at least 1 ms keeps the figure about what users could notice.
MIN_BASELINE_S = 0.001
GOOD_BELOW = 0.5
MODERATE_BELOW = 2.0


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
