"""Which per-second samples a phase's comparisons read."""

from __future__ import annotations

import pytest

from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.engine.run import phase_seconds
from chaos_operator.models.status import PhaseResult
from chaos_operator.ports import LoadResult

RESULT = PhaseResult(started_at="t0", finished_at="t1", requests=0, errors=0, error_rate=0.0, throughput=0.0)
SAMPLES = [SecondSample(offset_s=float(s), requests=50, errors=0, p95_s=None) for s in range(6)]


@pytest.mark.parametrize(("split", "first"), [(None, 0), (0.0, 0), (2.4, 2), (3.0, 3), (2.9999999999, 3)])
def test_chaos_counts_from_the_second_in_which_the_fault_took_hold(split: float | None, first: int) -> None:
    load = LoadResult(RESULT, started_mono=100.0, samples=SAMPLES, split_offset_s=split)
    assert [s.offset_s for s in phase_seconds(load)] == [float(s) for s in range(first, 6)]
