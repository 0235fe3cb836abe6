"""The typed results one phase hands to the next, and the run's figures held in memory.

`.status` is written as a projection of these (engine/recorder.py); it is read back only when a daemon resumes
an experiment that a previous one left in Analyzing.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chaos_operator.models.status import (
    Check,
    Comparison,
    ExperimentStatus,
    Grade,
    Phase,
    PhaseResult,
    TargetRef,
    Verdict,
)
from chaos_operator.models.timestamps import parse_time

if TYPE_CHECKING:
    from chaos_operator.analysis.recovery import SecondSample
    from chaos_operator.engine.chaos_window import ChaosWindow
    from chaos_operator.ports import LoadResult


@dataclass(frozen=True)
class Ending:
    """The experiment ends here: the terminal phase and why (checks, score and grade when analysed)."""

    phase: Phase
    verdict: Verdict | None
    reason: str
    message: str
    checks: list[Check] | None = None
    score: int | None = None
    grade: Grade | None = None
    analysis: list[Comparison] | None = None


class Stopped:
    """The daemon is stopping (operator exit or deletion): the status stays in its phase for the next daemon or
    the finalizer, which finish the experiment."""


STOPPED = Stopped()
Early = Ending | Stopped  # a phase that does not hand a result on returns one of these


@dataclass(frozen=True)
class Prepared:
    targets: list[TargetRef]
    seed: int
    ready_before: int


@dataclass(frozen=True)
class ChaosResult:
    load: LoadResult
    window: ChaosWindow  # its workload watch goes on into the recovery phase


Window = tuple[datetime.datetime, datetime.datetime]


@dataclass
class RunFigures:
    """What the run measured so far."""

    baseline: PhaseResult | None = None
    chaos: PhaseResult | None = None
    recovery: PhaseResult | None = None
    recovery_s: float | None = None
    halts: list[Check] = field(default_factory=list)  # halt conditions that ended the chaos window
    # Per phase, the whole seconds its figures cover: what the statistical comparisons resample. Empty for a
    # run resumed from status (the per-second figures lived in the previous daemon's memory).
    seconds: dict[str, Sequence[SecondSample]] = field(default_factory=dict)

    @classmethod
    def from_status(cls, status: ExperimentStatus, halt_names: Collection[str]) -> RunFigures:
        phases = status.phases
        return cls(baseline=phases.baseline, chaos=phases.chaos, recovery=phases.recovery,
                   recovery_s=None if status.recovery_time is None else float(status.recovery_time),
                   halts=[c for c in status.checks if c.name in halt_names and c.phase == "chaos" and not c.passed])

    def window(self, phase: str) -> Window | None:
        """The phase's measured interval, for queries over it."""
        result: PhaseResult | None = getattr(self, phase)
        if result is None:
            return None
        return parse_time(result.started_at), parse_time(result.finished_at)
