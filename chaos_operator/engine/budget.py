"""Status stays under its byte budget (pure): what is left out, in order, once a status would exceed it.

1. ``targets`` entries whose target has a record: the record names it (name and uid) already.
2. The message and helperPod of finished records (Recovered, Failed), first record first: such a record holds no
   fault, and its outcome was also an Event. It keeps its target, uid, state and its interval.
3. The message of records that may still hold a fault. Their target, uid, state, helperPod and times are never
   dropped: recovery and fail-closed (engine/failclosed.py) read them.

Each is counted in ``status.summarised``; no record is ever dropped.
"""

from __future__ import annotations

import json

from chaos_operator.models.base import ApiModel
from chaos_operator.models.status import (
    MAX_SUMMARISED,
    STATUS_BUDGET,
    ExperimentStatus,
    Injection,
    RecordState,
    Summarised,
)

FINISHED = (RecordState.RECOVERED, RecordState.FAILED)
SUMMARY_ROOM = 96  # bytes the summarised field itself may take


def size(model: ApiModel) -> int:
    """Bytes of the model's wire form as compact JSON (what the API server stores, near enough)."""
    return len(json.dumps(model.to_api(), separators=(",", ":")))


def fit(status: ExperimentStatus, budget: int = STATUS_BUDGET) -> ExperimentStatus:
    over = size(status) + SUMMARY_ROOM - budget
    if over <= 0:
        return status
    recorded = {record.uid for record in status.injections}
    targets = [target for target in status.targets if target.uid not in recorded]
    over -= sum(size(target) + 1 for target in status.targets if target.uid in recorded)
    records = list(status.injections)
    trimmed = cut = 0
    for finished in (True, False):
        for index, record in enumerate(records):
            if over <= 0:
                break
            if (record.state in FINISHED) != finished or not _trimmable(record, finished):
                continue
            drop: dict[str, object] = {"message": None, "helper_pod": None} if finished else {"message": None}
            smaller = record.model_copy(update=drop)
            over -= size(record) - size(smaller)
            records[index] = smaller
            trimmed, cut = (trimmed + 1, cut) if finished else (trimmed, cut + 1)
    before = status.summarised or Summarised()
    summary = Summarised(targets=min(MAX_SUMMARISED, before.targets + len(status.targets) - len(targets)),
                         records=min(MAX_SUMMARISED, before.records + trimmed),
                         messages=min(MAX_SUMMARISED, before.messages + cut))
    return status.model_copy(update={"targets": targets, "injections": records, "summarised": summary})


def _trimmable(record: Injection, finished: bool) -> bool:
    return record.message is not None or (finished and record.helper_pod is not None)
