"""The verdict, its machine reason and its one-sentence message (docs/scoring.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from chaos_operator.analysis.checks import baseline_checks, evaluate
from chaos_operator.analysis.grade import DEFAULT_FAILED_AT_S, OUTAGE_ERROR_RATE, degradation, effective_mean, grade
from chaos_operator.analysis.score import score
from chaos_operator.models.duration import format_duration
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import Check, Grade, PhaseResult, PhaseResults, Verdict

MIN_SAMPLES = 100  # fewer requests than this in a phase and its percentiles are noise
MESSAGE_LIMIT = 1024  # status.message maxLength


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    reason: str
    message: str
    checks: list[Check] = field(default_factory=list)
    score: int | None = None  # None when the figures are too thin to score
    grade: Grade | None = None
    recovery_time: float | None = None


def decide(slos: Slos, phases: PhaseResults, recovery_s: float | None, recovery_window_s: float,
           failed_at_s: float = DEFAULT_FAILED_AT_S) -> Outcome:
    """Judge a finished experiment: too few samples, then failed checks, else passed. ``failed_at_s`` is the
    load's timeout: what a failed request counts as in the degradation and the grade."""
    checks = evaluate(slos, phases, recovery_s, recovery_window_s, failed_at_s)
    short = _short_phases(phases)
    if short:
        return Outcome(Verdict.INCONCLUSIVE, "TooFewSamples", _too_few_message(short), checks,
                       recovery_time=recovery_s)
    points = score(slos, phases, recovery_s, recovery_window_s)
    letter = grade_of(phases, failed_at_s)
    failed = [c for c in checks if not c.passed]
    if failed:
        message = f"{len(failed)} of {_count(len(checks), 'check')} failed: {_list_failed(failed)}."
        return Outcome(Verdict.FAILED, "SLOsViolated", _bounded(message), checks, points, letter, recovery_s)
    recovered = "" if recovery_s is None else f", recovered after {format_duration(max(0.0, recovery_s))}"
    grade_text = "" if letter is None else f", grade {letter}"
    held = "The only check passed" if len(checks) == 1 else f"All {len(checks)} checks passed"
    message = f"{held}; score {points}{grade_text}{recovered}."
    return Outcome(Verdict.PASSED, "SLOsHeld", message, checks, points, letter, recovery_s)


def baseline_gate(slos: Slos, baseline: PhaseResult) -> Outcome | None:
    """Stop before any injection when the baseline cannot be judged or already breaks the SLOs."""
    checks = baseline_checks(slos, baseline)
    if baseline.requests < MIN_SAMPLES:
        # The final verdict would be TooFewSamples anyway; do not harm the service for nothing.
        message = (f"The baseline phase had {_count(baseline.requests, 'request')}, fewer than the {MIN_SAMPLES} "
                   "needed to judge, so nothing was injected.")
        return Outcome(Verdict.INCONCLUSIVE, "TooFewSamples", message, checks)
    failed = [c for c in checks if not c.passed]
    if not failed:
        return None
    message = f"The baseline already breaks the SLOs, so nothing was injected: {_list_failed(failed)}."
    return Outcome(Verdict.INCONCLUSIVE, "BaselineUnhealthy", _bounded(message), checks)


def grade_of(phases: PhaseResults, failed_at_s: float = DEFAULT_FAILED_AT_S) -> Grade | None:
    """Grade from the mean latency with failed requests at the timeout, chaos vs baseline; POOR when nothing
    completed under chaos or when at least half of its requests failed (an outage is never GOOD)."""
    baseline, chaos = phases.baseline, phases.chaos
    if baseline is None or baseline.latency is None or chaos is None:
        return None
    if chaos.latency is None or chaos.error_rate >= OUTAGE_ERROR_RATE:
        return "POOR"
    base, under = effective_mean(baseline, failed_at_s), effective_mean(chaos, failed_at_s)
    if base is None or under is None:
        return None
    return grade(degradation(base, under))


def _short_phases(phases: PhaseResults) -> list[tuple[str, int]]:
    counts = [(name, 0 if result is None else result.requests)
              for name, result in (("baseline", phases.baseline), ("chaos", phases.chaos),
                                   ("recovery", phases.recovery))]
    return [(name, n) for name, n in counts if n < MIN_SAMPLES]


def _too_few_message(short: Sequence[tuple[str, int]]) -> str:
    parts = [f"the {name} phase had {_count(n, 'request')}" for name, n in short]
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Too few requests to judge: {joined}, fewer than the {MIN_SAMPLES} each phase needs."


def _list_failed(failed: Sequence[Check]) -> str:
    return "; ".join(f"{c.name} ({c.phase}) {c.observed} vs limit {c.limit}" for c in failed)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _bounded(message: str) -> str:
    if len(message) <= MESSAGE_LIMIT:
        return message
    return message[: MESSAGE_LIMIT - 2].rstrip() + "…"
