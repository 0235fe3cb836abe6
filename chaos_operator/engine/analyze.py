"""Glue between the runner and the pure analysis package: which samples, which reference time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from chaos_operator.analysis import bootstrap, coverage, held, recovery, verdict
from chaos_operator.analysis.comparison import compare, to_status
from chaos_operator.analysis.evidence import Evidence, slo_evidence
from chaos_operator.analysis.recovery import NOT_APPLICABLE, SecondSample, WorkloadRecovery
from chaos_operator.engine.run import RunFigures
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import (
    MAX_CHECKS,
    Check,
    Comparison,
    ComparisonName,
    PhaseResult,
    PhaseResults,
    Verdict,
    clip,
)
from chaos_operator.ports import LoadResult


def recovery_window(spec: ExperimentSpec, instant: bool) -> float:
    """Longest recovery time that can be observed: from the earliest reference to the end of recovery."""
    return float(spec.phases.recovery) + (float(spec.phases.chaos) if instant else 0.0)


def recovery_seconds(spec: ExperimentSpec, baseline: PhaseResult | None, chaos: LoadResult, recovered: LoadResult,
                     last_injection_mono: float | None, whole_at_mono: float | None, instant: bool) -> float | None:
    """Seconds from the reference until both the service and (for instant faults) the workload were back.

    The reference is the last injection for one-off faults (a kill) and the end of the chaos window
    (fault removed) otherwise. Every time here is Clock.monotonic().
    """
    if baseline is None:
        return None
    if instant and last_injection_mono is not None:
        reference = last_injection_mono
        samples = _shift(chaos, reference) + _shift(recovered, reference)
        workload: WorkloadRecovery = None if whole_at_mono is None else whole_at_mono - reference
    else:
        reference = recovered.started_mono
        samples = _shift(recovered, reference)
        workload = NOT_APPLICABLE
    # Seconds before the reference say nothing about recovery (the second holding it still counts).
    samples = [s for s in samples if s.offset_s > -1.0]
    service = recovery.service_recovered_after(baseline, samples, spec.slos)
    return recovery.recovery_time(service, workload)


def _shift(result: LoadResult, reference: float) -> list[SecondSample]:
    delta = result.started_mono - reference
    return [SecondSample(offset_s=s.offset_s + delta, requests=s.requests, errors=s.errors, p95_s=s.p95_s)
            for s in result.samples]


COMPARED: tuple[tuple[str, ComparisonName], ...] = (("chaos", "baselineVsChaos"), ("recovery", "baselineVsRecovery"))


def statistics(spec: ExperimentSpec, seconds: Mapping[str, Sequence[SecondSample]]) -> tuple[list[Comparison],
                                                                                              list[Evidence]]:
    """Each phase against the baseline with its interval and class, and each SLO check's interval."""
    draws = {phase: bootstrap.resample(secs, float(spec.load.timeout), seed=index)
             for index, (phase, secs) in enumerate(sorted(seconds.items())) if secs}
    comparisons: list[Comparison] = []
    if "baseline" in draws:
        for phase, name in COMPARED:
            if phase in draws:
                comparisons += [to_status(f) for f in compare(draws["baseline"], draws[phase], name, spec.slos)]
    return comparisons, slo_evidence(spec.slos, draws)


def final(spec: ExperimentSpec, figures: RunFigures, instant: bool, extra: list[Check]) -> verdict.Outcome:
    """The built-in verdict, then Prometheus SLIs (``extra``) and any halt recorded during chaos; last, a phase
    whose load coverage is too low makes it Inconclusive (analysis/coverage.py)."""
    outcome = _judged(spec, figures, instant, extra)
    return coverage.judge(outcome, PhaseResults(baseline=figures.baseline, chaos=figures.chaos,
                                                recovery=figures.recovery))


def _judged(spec: ExperimentSpec, figures: RunFigures, instant: bool, extra: list[Check]) -> verdict.Outcome:
    phases = PhaseResults(baseline=figures.baseline, chaos=figures.chaos, recovery=figures.recovery)
    comparisons, evidence = statistics(spec, figures.seconds)
    outcome = verdict.decide(spec.slos, phases, figures.recovery_s, recovery_window(spec, instant),
                             failed_at_s=float(spec.load.timeout), evidence=evidence)
    outcome = replace(outcome, analysis=comparisons)
    halts = figures.halts
    checks = [*outcome.checks, *extra, *halts][:MAX_CHECKS]
    if halts:
        first = halts[0]
        message = (f"Halted: condition {first.name} read {first.observed} against {first.limit} during chaos; "
                   "the fault was recovered at once and recovery was measured.")
        return replace(outcome, verdict=Verdict.FAILED, reason="Halted", message=message, checks=checks)
    failed = [c for c in extra if not c.passed]
    if failed and (outcome.verdict == Verdict.PASSED or outcome.reason == verdict.NOT_ENOUGH_EVIDENCE):
        names = ", ".join(f"{c.name} in {c.phase} ({c.observed} vs {c.limit})" for c in failed)
        outcome = replace(outcome, verdict=Verdict.FAILED, reason="SLOsViolated",
                          message=clip(f"Prometheus SLIs failed: {names}."))
    # A halt is judged above (a breach seen while the fault held); anything else only on the time it held.
    said, why, message = held.judge(outcome.verdict, outcome.reason, outcome.message,
                                    figures.chaos.fault_held if figures.chaos is not None else None)
    if why == held.FAULT_NOT_HELD:  # figures of a window the experiment did not ask for earn no score
        return replace(outcome, verdict=said, reason=why, message=message, checks=checks, score=None, grade=None)
    return replace(outcome, verdict=said, reason=why, message=message, checks=checks)
