"""Pure state machine: which phase comes next, and what to do with a status found on (re)start."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from chaos_operator.models.status import TERMINAL_PHASES, ExperimentStatus, Phase, RecordState

ORDER = (Phase.PENDING, Phase.BASELINE, Phase.CHAOS, Phase.RECOVERY, Phase.ANALYZING, Phase.COMPLETED)


class Resume(enum.Enum):
    NOTHING = "nothing"  # already finished
    START = "start"  # nothing was touched yet: run from the beginning
    CONTINUE = "continue"  # the load workers kept measuring: pick the run up where it stands (engine/resume.py)
    LOST = "lost"  # a fault may be live and the figures of the phase in progress are gone: recover, end Failed
    ANALYZE = "analyze"  # every figure is in status: finish the analysis


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


def resume(status: ExperimentStatus, resumable: bool = False) -> Decision:
    """What a daemon does with the status it finds when it starts (first run or after a restart); ``resumable``
    when its load keeps its figures outside the operator (load workers)."""
    phase = status.phase
    if phase in TERMINAL_PHASES:
        return Decision(Resume.NOTHING, f"already {phase}")
    if phase == Phase.PENDING:
        return Decision(Resume.START, "nothing injected yet")
    if resumable and spans_reach(status):
        return Decision(Resume.CONTINUE, f"picked up in {phase} from the load workers' data")
    if phase == Phase.BASELINE:
        # No injection happens before Chaos (write-ahead), so starting over is safe.
        return Decision(Resume.START, "nothing injected yet")
    if phase == Phase.ANALYZING and status.phases.recovery is not None:
        return Decision(Resume.ANALYZE, "all figures recorded")
    return Decision(Resume.LOST, f"operator restarted during {phase}")


def spans_reach(status: ExperimentStatus) -> bool:
    """Whether status places every phase measured so far in the load workers' data: each recorded phase with its
    end, and the phase under way with its start."""
    spans, phases = status.load_spans, status.phases
    if spans is None or spans.baseline is None:
        return False
    for name in ("baseline", "chaos", "recovery"):
        span = getattr(spans, name)
        if getattr(phases, name) is not None and (span is None or span.end is None):
            return False
    under_way = {Phase.BASELINE: spans.baseline, Phase.CHAOS: spans.chaos, Phase.RECOVERY: spans.recovery}
    if status.phase in under_way:
        return under_way[status.phase] is not None
    return phases.recovery is not None  # Analyzing: every phase recorded


def pending_recovery(status: ExperimentStatus) -> list[int]:
    """Indexes of injection records that may still be live."""
    live = (RecordState.PENDING, RecordState.INJECTED, RecordState.REVERTING, RecordState.RECOVERY_FAILED)
    return [i for i, record in enumerate(status.injections) if record.state in live]
