"""cli/report/held.py: targets holding the fault over time, from the records."""

from __future__ import annotations

from typing import Any

import pytest

from chaos_operator.cli.report.held import holding, intervals

T0 = "2026-01-01T00:00:00Z"


def rec(injected: str | None, held: str | None = None, recovered: str | None = None) -> dict[str, Any]:
    return {"target": "p", "uid": "u", "state": "Recovered", "injectedAt": injected, "heldUntil": held,
            "recoveredAt": recovered}


@pytest.mark.parametrize(("records", "spans"), [
    ([rec("2026-01-01T00:00:10Z", "2026-01-01T00:00:40Z", "2026-01-01T00:00:41Z")], [(10.0, 40.0)]),
    ([rec("2026-01-01T00:00:10Z", None, "2026-01-01T00:00:41Z")], [(10.0, 41.0)]),  # no heldUntil: recovered
    ([rec("2026-01-01T00:00:10Z")], [(10.0, 60.0)]),  # still holding: to the timeline's end
    ([rec(None)], []),  # never injected (Pending, Failed)
])
def test_intervals(records: list[dict[str, Any]], spans: list[tuple[float, float]]) -> None:
    assert intervals(records, T0, 60.0) == spans


def test_holding_counts_overlaps_and_returns_to_zero() -> None:
    assert holding([(10.0, 40.0), (12.0, 20.0), (20.0, 30.0)]) == [
        (10.0, 1), (12.0, 2), (20.0, 2), (30.0, 1), (40.0, 0)]


def test_holding_of_nothing_is_empty() -> None:
    assert holding([]) == [] and holding([(5.0, 5.0)]) == []
