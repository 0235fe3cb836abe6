"""Load coverage (pure): a phase whose workers accounted for less than MIN_COVERAGE of the requests its
schedule intended is not judged. Its checks are Inconclusive with the reason, and so is the run (`LowCoverage`):
the missing requests are exactly the ones a lost worker would have seen, so the figures left could lie either
way. In-process load has no coverage (every scheduled request is accounted for): nothing changes for it.
"""

from __future__ import annotations

from dataclasses import replace

from chaos_operator.analysis import verdict
from chaos_operator.analysis.checks import baseline_checks
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import Check, PhaseResult, PhaseResults, Verdict

MIN_COVERAGE = 0.95
REASON = "LowCoverage"
# A run-wide check (the recovery time) is computed from the chaos and recovery seconds.
_EXPERIMENT_FROM = frozenset({"chaos", "recovery"})


def low_phases(phases: PhaseResults) -> dict[str, float]:
    """Phase name -> coverage, for the phases below MIN_COVERAGE (in the order of the run)."""
    found = {name: result.coverage for name, result in
             (("baseline", phases.baseline), ("chaos", phases.chaos), ("recovery", phases.recovery))
             if result is not None and result.coverage is not None and result.coverage < MIN_COVERAGE}
    return {name: cov for name, cov in found.items() if cov is not None}


def _why(low: dict[str, float]) -> str:
    listed = ", ".join(f"{name} {cov:.1%}" for name, cov in low.items())
    return f"load coverage below {MIN_COVERAGE:.0%} (requests accounted for / scheduled): {listed}"


def mark_checks(checks: list[Check], low: dict[str, float]) -> list[Check]:
    """The checks of the low phases (and run-wide ones judged from them) Inconclusive, with the reason."""
    if not low:
        return checks
    why = _why(low)[:256]
    touched = set(low) | ({"experiment"} if _EXPERIMENT_FROM & set(low) else set())
    return [c.model_copy(update={"passed": False, "inconclusive": why}) if c.phase in touched else c
            for c in checks]


def judge(outcome: verdict.Outcome, phases: PhaseResults) -> verdict.Outcome:
    """The outcome, or Inconclusive/LowCoverage when a phase's coverage is below MIN_COVERAGE. A halt (a
    Prometheus condition breached during chaos) stands: it was not measured by the load."""
    low = low_phases(phases)
    if not low or outcome.reason == "Halted":
        return outcome
    message = f"Not judged: {_why(low)}; a load worker was lost or missed its seconds."
    return replace(outcome, verdict=Verdict.INCONCLUSIVE, reason=REASON, message=message[:verdict.MESSAGE_LIMIT],
                   checks=mark_checks(outcome.checks, low), score=None, grade=None)


def baseline_gate(slos: Slos, baseline: PhaseResult) -> verdict.Outcome | None:
    """verdict.baseline_gate, but a baseline below MIN_COVERAGE stops the run Inconclusive before any injection:
    its figures cannot say whether the service was healthy."""
    gate = verdict.baseline_gate(slos, baseline)
    low = low_phases(PhaseResults(baseline=baseline))
    if not low:
        return gate
    checks = mark_checks(gate.checks if gate is not None else baseline_checks(slos, baseline), low)
    message = f"The baseline was not measured, so nothing was injected: {_why(low)}."
    return verdict.Outcome(Verdict.INCONCLUSIVE, REASON, message[:verdict.MESSAGE_LIMIT], checks)
