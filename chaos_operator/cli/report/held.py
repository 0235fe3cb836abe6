"""How many targets held the fault over the run, from the records (pure): what the report draws.

A record's fault held from `injectedAt` until `heldUntil` (its revert began, or its helper was found lost);
a record without `heldUntil` falls back to `recoveredAt`, and one still holding at the end of the timeline holds
until then. A count over time rather than a row per target: a run may have a thousand targets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chaos_operator.models.timestamps import parse_time


def intervals(records: Iterable[Mapping[str, Any]], started_at: str, end_s: float) -> list[tuple[float, float]]:
    """Each record's (from, to) in seconds since ``started_at``; records never injected are left out."""
    t0 = parse_time(started_at)
    found = []
    for record in records:
        begun = record.get("injectedAt")
        if not isinstance(begun, str):
            continue
        ended = record.get("heldUntil") or record.get("recoveredAt")
        start = (parse_time(begun) - t0).total_seconds()
        stop = (parse_time(ended) - t0).total_seconds() if isinstance(ended, str) else end_s
        found.append((start, max(start, stop)))
    return found


def holding(spans: Iterable[tuple[float, float]]) -> list[tuple[float, int]]:
    """A step function: (t, targets holding from t on), one step per change, starting and ending at zero."""
    changes: dict[float, int] = {}
    for start, stop in spans:
        if stop <= start:
            continue
        changes[start] = changes.get(start, 0) + 1
        changes[stop] = changes.get(stop, 0) - 1
    steps, count = [], 0
    for t in sorted(changes):
        count += changes[t]
        steps.append((t, count))
    return steps
