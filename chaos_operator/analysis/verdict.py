"""The verdict, its machine reason and its one-sentence message (docs/scoring.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from chaos_operator.analysis.checks import baseline_checks, evaluate, format_percent, format_rate
from chaos_operator.analysis.evidence import Evidence
from chaos_operator.analysis.grade import DEFAULT_FAILED_AT_S, OUTAGE_ERROR_RATE, degradation, effective_mean, grade
from chaos_operator.analysis.score import score
from chaos_operator.models.duration import format_duration
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import Check, Comparison, Grade, PhaseResult, PhaseResults, Verdict

NOT_ENOUGH_EVIDENCE = "NotEnoughEvidence"
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
    analysis: list[Comparison] = field(default_factory=list)  # status.analysis, filled by the engine


def decide(slos: Slos, phases: PhaseResults, recovery_s: float | None, recovery_window_s: float,
           failed_at_s: float = DEFAULT_FAILED_AT_S, evidence: Sequence[Evidence] | None = None) -> Outcome:
    """Judge a finished experiment: too few samples, then failed checks, else passed. ``failed_at_s`` is the
    load's timeout: what a failed request counts as in the degradation and the grade.

    With ``evidence`` (evidence.py), a check that has an interval is decided by it rather than by its point
    figure: broken beyond its interval fails the run, undecided makes it Inconclusive (NotEnoughEvidence).
    Without it (a run resumed from status has no per-second figures) the point figures decide, as they did."""
    checks = evaluate(slos, phases, recovery_s, recovery_window_s, failed_at_s)
    short = _short_phases(phases)
    if short:
        return Outcome(Verdict.INCONCLUSIVE, "TooFewSamples", _too_few_message(short), checks,
                       recovery_time=recovery_s)
    points = score(slos, phases, recovery_s, recovery_window_s)
    letter = grade_of(phases, failed_at_s)
    judged = {(e.name, e.phase): e for e in evidence or ()}
    failed = [c for c in checks if _broken(c, judged.get((c.name, c.phase)))]
    if failed:
        message = f"{len(failed)} of {_count(len(checks), 'check')} failed: {_list_failed(failed, judged)}."
        return Outcome(Verdict.FAILED, "SLOsViolated", _bounded(message), checks, points, letter, recovery_s)
    open_ = [e for c in checks if (e := judged.get((c.name, c.phase))) is not None and e.state == "undecided"]
    if open_:
        message = "The evidence cannot decide " + "; ".join(_undecided(e) for e in open_) + "."
        return Outcome(Verdict.INCONCLUSIVE, NOT_ENOUGH_EVIDENCE, _bounded(message), checks, points, letter,
                       recovery_s)
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


def _broken(check: Check, evidence: Evidence | None) -> bool:
    return not check.passed if evidence is None else evidence.state == "broken"


def _list_failed(failed: Sequence[Check], judged: dict[tuple[str, str], Evidence] | None = None) -> str:
    def one(c: Check) -> str:
        e = (judged or {}).get((c.name, c.phase))
        interval = "" if e is None else f" [{_figure(e, e.lo)}, {_figure(e, e.hi)}]"
        return f"{c.name} ({c.phase}) {c.observed}{interval} vs limit {c.limit}"
    return "; ".join(one(c) for c in failed)


def _figure(e: Evidence, value: float) -> str:
    if e.name == "maxErrorRate":
        return format_rate(value)
    if e.name == "maxLatencyDegradation":
        return format_percent(value)
    return format_duration(max(0.0, value))


def _undecided(e: Evidence) -> str:
    text = (f"{e.name} ({e.phase}): its interval [{_figure(e, e.lo)}, {_figure(e, e.hi)}] straddles the limit "
            f"{_figure(e, e.limit)}")
    if e.min_detectable is not None:
        text += f"; at this sample size only a distance of {_figure(e, e.min_detectable)} from it is detectable"
    if e.seconds_needed is not None:
        text += f", a phase of about {format_duration(math.ceil(e.seconds_needed))} would decide it"
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _bounded(message: str) -> str:
    if len(message) <= MESSAGE_LIMIT:
        return message
    return message[: MESSAGE_LIMIT - 2].rstrip() + "…"
