"""The conditions of a status, derived from the rest of it (pure): Progressing, FaultActive, FaultApplied."""

from __future__ import annotations

from typing import Literal

from chaos_operator.analysis import held
from chaos_operator.models.status import Condition, ExperimentStatus, Phase, RecordState, clip

RUNNING_PHASES = (Phase.BASELINE, Phase.CHAOS, Phase.RECOVERY, Phase.ANALYZING)


def conditions(status: ExperimentStatus, now: str, generation: int | None) -> list[Condition]:
    """The conditions ``status`` implies; a condition keeps its transition time while its status is unchanged."""
    running = status.phase in RUNNING_PHASES
    reason = status.reason or ("Running" if running else status.phase)
    wanted: dict[str, tuple[Literal["True", "False"], str, str]] = {
        "Progressing": ("True" if running else "False", reason if not running else status.phase,
                        status.message or f"experiment is {status.phase}"),
        "FaultActive": fault_active(status),
    }
    if status.phases.chaos is not None and status.phases.chaos.fault_held is not None:
        wanted["FaultApplied"] = held.condition(status.phases.chaos.fault_held)  # what the verdict judged
    old = {c.type: c for c in status.conditions}
    result = []
    for type_, (state, why, message) in wanted.items():
        prev = old.get(type_)
        changed = prev is None or prev.status != state
        result.append(Condition(
            type=type_, status=state, reason=why, message=clip(message),
            last_transition_time=now if changed or prev is None else prev.last_transition_time,
            observed_generation=generation,
        ))
    return result


def fault_active(status: ExperimentStatus) -> tuple[Literal["True", "False"], str, str]:
    """The FaultActive condition: a fault being reverted, or whose revert failed, may still be in effect."""
    states = {record.state for record in status.injections}
    for state, message in ((RecordState.RECOVERY_FAILED, "a revert failed: a fault may still be in effect"),
                           (RecordState.REVERTING, "a fault is being reverted"),
                           (RecordState.INJECTED, "a fault is in effect")):
        if state in states:
            return "True", state.value, message
    return "False", "NoFaultActive", "no fault is in effect"
