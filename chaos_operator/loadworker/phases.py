"""One phase of the engine cut from the workers' merged seconds (pure): the operator side of the merge.

The workers number their seconds from the one startAt; the engine says when a phase really began and ended
(and, for chaos, when the fault took hold: ``split``), as offsets from startAt. A second belongs to the phase
whose interval holds its middle, so phases that follow each other share no second and lose none. The figures
come from the merged HDR histograms (`record.merge`: added, never averaged); coverage is `record.coverage` over
the phase's seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from chaos_operator.analysis.buckets import SecondHistogram, bucket_of
from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.loadworker.hdrview import View
from chaos_operator.loadworker.record import SecondRecord, coverage, decode, latency_over
from chaos_operator.models.duration import Duration
from chaos_operator.models.status import ErrorCounts, Latency, PhaseResult, Ramp


@dataclass(frozen=True)
class Instants:
    """A phase, as offsets (seconds) from startAt, with the wall-clock timestamps status shows."""

    start_s: float
    end_s: float
    started_at: str
    finished_at: str
    split_s: float | None = None  # when the figures start (chaos: every target holds its fault)
    split_at: str | None = None


@dataclass(frozen=True)
class PhaseCut:
    result: PhaseResult
    first: int  # the phase's seconds [first, end), from startAt
    end: int
    samples: tuple[SecondSample, ...]  # offsets from second `first`
    split_offset_s: float | None  # from second `first`


def second_of(offset_s: float) -> int:
    """The first second whose middle is at or after ``offset_s``."""
    return max(0, math.ceil(round(offset_s - 0.5, 9)))


def _us(value: float) -> float:
    return value / 1e6


def latency(histogram: HdrHistogram) -> Latency | None:
    if histogram.get_total_count() == 0:
        return None
    view = View(histogram)  # hdrh's own reads would block the operator's loop (loadworker/hdrview.py)
    p50, p90, p95, p99 = (Duration(_us(view.percentile(q))) for q in (50, 90, 95, 99))
    return Latency(mean=Duration(_us(view.mean())), p50=p50, p90=p90, p95=p95, p99=p99,
                   max=Duration(_us(histogram.get_max_value())))


def _totals(records: Sequence[SecondRecord]) -> tuple[int, int, ErrorCounts]:
    """(requests, errors, classes) with the generator's classes: an error is any request whose status is not a
    success code; timeouts and connection errors first, then 5xx, the rest unexpected statuses."""
    requests = sum(r.accounted for r in records)
    errors = requests - sum(r.success for r in records)
    timeout = sum(r.outcomes.get("timeout", 0) for r in records)
    connection = sum(r.outcomes.get("connection", 0) for r in records)
    http5xx = min(sum(r.outcomes.get("5xx", 0) for r in records), max(0, errors - timeout - connection))
    return requests, errors, ErrorCounts(timeout=timeout, connection=connection, http5xx=http5xx,
                                         unexpected_status=max(0, errors - timeout - connection - http5xx))


def summary(records: Sequence[SecondRecord], started_at: str, finished_at: str, wall_s: float) -> PhaseResult:
    requests, errors, classes = _totals(records)
    responded = requests - classes.timeout - classes.connection
    return PhaseResult(started_at=started_at, finished_at=finished_at, requests=requests, errors=errors,
                       error_rate=min(1.0, errors / requests) if requests else 0.0,
                       throughput=responded / wall_s if wall_s > 0 else 0.0,
                       latency=latency(latency_over(records)), error_classes=classes)


def buckets(view: View) -> SecondHistogram:
    """The HDR histogram in analysis/buckets.py's 2 % buckets (each HDR value at its bucket's upper end)."""
    counts: dict[int, int] = {}
    for value, count in view.recorded():
        index = bucket_of(_us(value))
        counts[index] = counts.get(index, 0) + count
    return tuple(sorted(counts.items()))


def sample(record: SecondRecord, offset_s: float) -> SecondSample:
    view = View(decode(record.latency))
    count = view.total
    p50 = _us(view.percentile(50)) if count else None
    p95 = _us(view.percentile(95)) if count else None
    return SecondSample(offset_s=offset_s, requests=record.accounted, errors=record.accounted - record.success,
                        p95_s=p95, p50_s=p50, latency_count=count,
                        latency_sum_s=_us(view.mean()) * count if count else 0.0,
                        histogram=buckets(view) if count else ())


def cut(merged: Sequence[SecondRecord], rate: float, at: Instants) -> PhaseCut:
    """The phase ``at`` of the merged records of every worker (``rate``: all workers' together)."""
    first, end = second_of(at.start_s), second_of(at.end_s)
    end = max(end, first)
    inside = [r for r in merged if first <= r.second < end]
    samples = tuple(sample(r, float(r.second - first)) for r in inside)
    share = coverage(inside, rate, first, end)
    if at.split_s is None or at.split_at is None:
        result = summary(inside, at.started_at, at.finished_at, at.end_s - at.start_s)
        return PhaseCut(result.model_copy(update={"coverage": share}), first, end, samples, None)
    # The second holding the split counts whole in the figures (engine/run.phase_seconds does the same).
    split = min(max(first, math.floor(round(at.split_s, 9))), end)
    before = [r for r in inside if r.second < split]
    after = [r for r in inside if r.second >= split]
    requests, errors, _ = _totals(before)
    ramp = Ramp(started_at=at.started_at, finished_at=at.split_at, requests=requests, errors=errors,
                error_rate=errors / requests if requests else 0.0)
    result = summary(after, at.split_at, at.finished_at, max(0.0, at.end_s - at.split_s))
    return PhaseCut(result.model_copy(update={"coverage": share, "ramp": ramp}), first, end, samples,
                    max(0.0, at.split_s - first))
