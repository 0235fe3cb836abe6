"""The steady-state hypothesis as individual checks, one per SLO and phase (docs/scoring.md).

Limits are inclusive: an observed value equal to its limit passes.
"""

from __future__ import annotations

from typing import Literal

from chaos_operator.analysis.grade import DEFAULT_FAILED_AT_S, degradation, effective_mean
from chaos_operator.models.duration import format_duration
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import Check, PhaseResult, PhaseResults

CheckPhase = Literal["baseline", "chaos", "recovery"]
NOT_RECOVERED = "not recovered"
NO_DATA = "no data"  # the phase was not measured
NO_LATENCY = "no response"  # requests were sent but none completed with a latency
# Float noise (0.15 - 0.1 = 0.04999…) must not flip a check that sits exactly on its limit.
_EPSILON = 1e-9


def evaluate(slos: Slos, phases: PhaseResults, recovery_s: float | None, recovery_window_s: float,
             failed_at_s: float = DEFAULT_FAILED_AT_S) -> list[Check]:
    """Every check of a finished experiment; ``recovered`` is always present, the rest follow the SLOs."""
    checks: list[Check] = []
    for phase in ("chaos", "recovery"):
        checks.extend(_phase_checks(slos, phase, getattr(phases, phase)))
    if slos.max_latency_degradation is not None:
        checks.append(_degradation_check(float(slos.max_latency_degradation), phases, failed_at_s))
    if slos.recovery_within is not None:
        checks.append(_recovery_check("recoveryWithin", recovery_s, float(slos.recovery_within)))
    checks.append(_recovery_check("recovered", recovery_s, recovery_window_s))
    return _grouped(checks)


def baseline_checks(slos: Slos, baseline: PhaseResult) -> list[Check]:
    """The baseline health gate: the SLOs that can already fail before anything is injected."""
    return _phase_checks(slos, "baseline", baseline)


def format_rate(rate: float) -> str:
    return f"{rate:.4f}"


def format_percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def within(observed: float, limit: float) -> bool:
    return observed <= limit + _EPSILON * max(1.0, abs(limit))


def _phase_checks(slos: Slos, phase: CheckPhase, result: PhaseResult | None) -> list[Check]:
    checks: list[Check] = []
    if slos.max_error_rate is not None:
        limit = slos.max_error_rate
        if result is None:
            checks.append(_missing("maxErrorRate", phase, format_rate(limit)))
        else:
            checks.append(Check(name="maxErrorRate", phase=phase, observed=format_rate(result.error_rate),
                                limit=format_rate(limit), passed=within(result.error_rate, limit)))
    for name, bound in (("maxLatencyP95", slos.max_latency_p95), ("maxLatencyP99", slos.max_latency_p99)):
        if bound is not None:
            checks.append(_latency_check(name, phase, result, float(bound)))
    return checks


def _latency_check(name: str, phase: CheckPhase, result: PhaseResult | None, limit: float) -> Check:
    if result is None:
        return _missing(name, phase, format_duration(limit))
    if result.latency is None:
        return Check(name=name, phase=phase, observed=NO_LATENCY, limit=format_duration(limit), passed=False)
    observed = float(result.latency.p95 if name == "maxLatencyP95" else result.latency.p99)
    return Check(name=name, phase=phase, observed=format_duration(observed), limit=format_duration(limit),
                 passed=within(observed, limit))


def _degradation_check(limit_percent: float, phases: PhaseResults, failed_at_s: float) -> Check:
    # The limit is shown as written ("50%", "12.25%"); the observed value with one decimal.
    name, text_limit, limit = "maxLatencyDegradation", f"{limit_percent:g}%", limit_percent / 100
    if phases.baseline is None or phases.chaos is None:
        return _missing(name, "chaos", text_limit)
    if phases.baseline.latency is None or phases.chaos.latency is None:
        return Check(name=name, phase="chaos", observed=NO_LATENCY, limit=text_limit, passed=False)
    base, under = effective_mean(phases.baseline, failed_at_s), effective_mean(phases.chaos, failed_at_s)
    if base is None or under is None:
        return _missing(name, "chaos", text_limit)
    deg = degradation(base, under)  # failed requests count at the timeout (grade.py)
    return Check(name=name, phase="chaos", observed=format_percent(deg), limit=text_limit,
                 passed=within(deg, limit))


def _recovery_check(name: str, recovery_s: float | None, limit: float) -> Check:
    observed = NOT_RECOVERED if recovery_s is None else format_duration(max(0.0, recovery_s))
    passed = recovery_s is not None and within(recovery_s, limit)
    return Check(name=name, phase="recovery", observed=observed, limit=format_duration(limit), passed=passed)


def _missing(name: str, phase: CheckPhase, limit: str) -> Check:
    return Check(name=name, phase=phase, observed=NO_DATA, limit=limit, passed=False)


def _grouped(checks: list[Check]) -> list[Check]:
    """Stable order for status and reports: by check name first, then chaos before recovery."""
    order = {"maxErrorRate": 0, "maxLatencyP95": 1, "maxLatencyP99": 2, "maxLatencyDegradation": 3,
             "recoveryWithin": 4, "recovered": 5}
    return sorted(checks, key=lambda c: order[c.name])
