"""Pure state machine: which phase comes next, and what to do with a status found on (re)start."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from chaos_operator.models.status import TERMINAL_PHASES, ExperimentStatus, Phase, RecordState

ORDER = (Phase.PENDING, Phase.BASELINE, Phase.CHAOS, Phase.RECOVERY, Phase.ANALYZING, Phase.COMPLETED)


class Resume(enum.Enum):
    NOTHING = "nothing"  # already finished
    START = "start"  # nothing was touched yet: run from the beginning
    RECOVER_AND_END = "recover-and-end"  # a fault may be live and load figures are lost
    ANALYZE = "analyze"  # every figure is in status: finish the analysis


# Resumes that send no more load: whatever load a previous daemon left running is ended.
NO_LOAD = frozenset({Resume.RECOVER_AND_END, Resume.ANALYZE})


@dataclass(frozen=True)
class Decision:
    action: Resume
    why: str


def can_move(current: str, new: str) -> bool:
    """Forward along ORDER, or to Aborted/Failed from any non-terminal phase."""
    if current in TERMINAL_PHASES:
        return False
    if new in (Phase.ABORTED, Phase.FAILED):
        return True
    return new in ORDER and ORDER.index(Phase(new)) > ORDER.index(Phase(current))


def resume(status: ExperimentStatus) -> Decision:
    """What a daemon does with the status it finds when it starts (first run or after a restart)."""
    phase = status.phase
    if phase in TERMINAL_PHASES:
        return Decision(Resume.NOTHING, f"already {phase}")
    if phase in (Phase.PENDING, Phase.BASELINE):
        # No injection happens before Chaos (write-ahead), so starting over is safe.
        return Decision(Resume.START, "nothing injected yet")
    if phase == Phase.ANALYZING and status.phases.recovery is not None:
        return Decision(Resume.ANALYZE, "all figures recorded")
    # Chaos/Recovery: the per-second load figures lived in the dead process's memory.
    return Decision(Resume.RECOVER_AND_END, f"operator restarted during {phase}")


def pending_recovery(status: ExperimentStatus) -> list[int]:
    """Indexes of injection records that may still be live."""
    live = (RecordState.PENDING, RecordState.INJECTED, RecordState.REVERTING, RecordState.RECOVERY_FAILED)
    return [i for i, record in enumerate(status.injections) if record.state in live]
