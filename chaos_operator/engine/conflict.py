"""What a status write becomes when someone else wrote the status since it was computed (a 409 Conflict).

A write is computed from ``base`` (the status its writer last knew) and wants ``mine``; the server now holds
``theirs``. The writer owns only what it changed (``mine`` differs from ``base``), and the phase never moves
backwards:

| what                                 | result                                                              |
|--------------------------------------|---------------------------------------------------------------------|
| phase                                | mine when it is a legal forward move from theirs, else theirs        |
| verdict, reason, message, finishedAt,| go with the phase: mine when my phase change won, else theirs        |
| score, grade                         |                                                                     |
| any other field (targets, seed,      | mine when I changed it and theirs is not finished (unless my phase  |
| phases, checks, recoveryTime, ...)   | change finished it), else theirs                                    |
| injection record in both             | the one further along (Pending < Injected < Recovered or Failed);   |
|                                      | a tie keeps mine when I changed it, else theirs; a finished record  |
|                                      | is never replaced; a different pod at that index keeps theirs       |
| injection record only in mine        | appended after theirs (a record I added)                            |
| injection record only in theirs      | kept                                                                |
| conditions, observedGeneration       | recomputed by the recorder from the result                          |
"""

from __future__ import annotations

from chaos_operator.engine import lifecycle
from chaos_operator.models.status import TERMINAL_PHASES, ExperimentStatus, Injection, RecordState

ENDING_FIELDS = ("verdict", "reason", "message", "finished_at", "score", "grade")
DERIVED_FIELDS = ("phase", "conditions", "observed_generation", "injections")
# A record only moves up; RecoveryFailed is not final (a later attempt may still recover it).
_RANK = {RecordState.PENDING: 0, RecordState.INJECTED: 1, RecordState.REVERTING: 2, RecordState.RECOVERY_FAILED: 3,
         RecordState.RECOVERED: 4, RecordState.FAILED: 4}
_FINAL = 4


def rebase(base: ExperimentStatus, mine: ExperimentStatus, theirs: ExperimentStatus) -> ExperimentStatus:
    if theirs == base:
        return mine
    phase_changed = mine.phase != base.phase
    my_phase_wins = phase_changed and mine.phase != theirs.phase and lifecycle.can_move(theirs.phase, mine.phase)
    update: dict[str, object] = {"phase": mine.phase if my_phase_wins else theirs.phase}
    finished = theirs.phase in TERMINAL_PHASES and not my_phase_wins
    for name in ExperimentStatus.model_fields:
        if name in DERIVED_FIELDS:
            continue
        changed = getattr(mine, name) != getattr(base, name)
        if name in ENDING_FIELDS:
            take_mine = my_phase_wins or (changed and not finished and mine.phase == theirs.phase)
        else:
            take_mine = changed and not finished
        update[name] = getattr(mine if take_mine else theirs, name)
    update["injections"] = merge_records(base.injections, mine.injections, theirs.injections)
    return theirs.model_copy(update=update)


def merge_records(base: list[Injection], mine: list[Injection], theirs: list[Injection]) -> list[Injection]:
    merged = list(theirs)
    for index, record in enumerate(mine):
        if index >= len(base):
            merged.append(record)  # added by me; appended after whatever they added
            continue
        if index >= len(theirs):
            continue
        other = theirs[index]
        if (other.uid, other.target) != (record.uid, record.target):
            continue
        if _RANK[other.state] >= _FINAL:
            continue  # a finished record is never replaced
        mine_ahead = _RANK[record.state] > _RANK[other.state]
        tie_mine = _RANK[record.state] == _RANK[other.state] and record != base[index]
        if mine_ahead or tie_mine:
            merged[index] = record
    return merged
