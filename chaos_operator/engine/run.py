"""The immutable results one phase hands to the next, and the run's figures they add up to.

`.status` is written as a projection of these (engine/recorder.py); it is read back only when a daemon resumes
an experiment that a previous one left in Analyzing.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from chaos_operator.analysis import held
from chaos_operator.analysis.recovery import SecondSample
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
    from chaos_operator.engine.chaos_window import WindowEnd
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
class Picked:
    """A chaos window an earlier daemon opened, as a daemon picking the run up finds it (engine/resume.py)."""

    start: float  # unix seconds: the window's start and when the fault held on the first round
    split: float
    first_round: tuple[int, int]  # (injected, targets)
    last_injection_mono: float | None
    losses: tuple[held.Loss, ...]  # faults that cannot be shown to have held while no operator ran
    whole_at_mono: float | None = None  # the workload seen whole after the last round, by the earlier daemon


@dataclass(frozen=True)
class ChaosResult:
    load: LoadResult
    window: WindowEnd  # the window is closed: what it saw, not its tasks
    halts: tuple[Check, ...] = ()  # the halt condition that ended the window early, if one did
    held_until_mono: float | None = None  # when the fault stopped holding (or the window ended)


@dataclass(frozen=True)
class Recovered:
    load: LoadResult
    seconds: float | None  # the recovery time, None when it was not observed


Window = tuple[datetime.datetime, datetime.datetime]


@dataclass(frozen=True)
class RunFigures:
    """What the run measured, as analysis takes it: from the phases' results, or from status on a resume."""

    baseline: PhaseResult | None = None
    chaos: PhaseResult | None = None
    recovery: PhaseResult | None = None
    recovery_s: float | None = None
    halts: tuple[Check, ...] = ()  # halt conditions that ended the chaos window
    # Per phase, the whole seconds its figures cover: what the statistical comparisons resample. Empty for a
    # run resumed from status (the per-second figures lived in the previous daemon's memory).
    seconds: Mapping[str, Sequence[SecondSample]] = field(default_factory=dict)

    @classmethod
    def measured(cls, baseline: LoadResult, chaos: ChaosResult, recovered: Recovered) -> RunFigures:
        seconds = {"baseline": phase_seconds(baseline), "chaos": phase_seconds(chaos.load, chaos.held_until_mono),
                   "recovery": phase_seconds(recovered.load)}
        return cls(baseline=baseline.result, chaos=chaos.load.result, recovery=recovered.load.result,
                   recovery_s=recovered.seconds, halts=chaos.halts, seconds=seconds)

    @classmethod
    def from_status(cls, status: ExperimentStatus, halt_names: Collection[str]) -> RunFigures:
        phases = status.phases
        return cls(baseline=phases.baseline, chaos=phases.chaos, recovery=phases.recovery,
                   recovery_s=None if status.recovery_time is None else float(status.recovery_time),
                   halts=tuple(c for c in status.checks
                               if c.name in halt_names and c.phase == "chaos" and not c.passed))

    def window(self, phase: str) -> Window | None:
        """The phase's measured interval, for queries over it."""
        result: PhaseResult | None = getattr(self, phase)
        if result is None:
            return None
        return parse_time(result.started_at), parse_time(result.finished_at)


def phase_seconds(load: LoadResult, until_mono: float | None = None) -> list[SecondSample]:
    """The whole seconds a phase's figures cover: for chaos, from the second in which the fault took hold, and
    up to the last whole second before it stopped holding (``until_mono``).

    The first second is counted whole, ramp requests included: it is where an instant fault (a kill) does its
    harm, and leaving it out would hide an outage shorter than a second or two.
    """
    samples = list(load.samples)
    if until_mono is not None:
        cut = round(until_mono - load.started_mono, 9)
        samples = [s for s in samples if s.offset_s + 1 <= cut]
    if load.split_offset_s is None:
        return samples
    first = math.floor(round(load.split_offset_s, 9))
    return [s for s in samples if s.offset_s >= first]


def hold(load: LoadResult, seen: WindowEnd, in_effect_mono: float | None, ended_mono: float,
         asked_s: float) -> tuple[LoadResult, float | None]:
    """The chaos load with what the fault held (status.phases.chaos.faultHeld), and until when it held."""
    measured = held.measure(asked_s, in_effect_mono, ended_mono, seen.losses, *seen.first_round, seen.observed)
    if measured is None:
        return load, None
    figures, until = measured
    return replace(load, result=load.result.model_copy(update={"fault_held": figures})), until
