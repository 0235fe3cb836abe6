"""Per-phase load statistics (pure): outcome classes, histogram, per-second timeline, summary.

What counts where:
- every request counts in ``requests`` and in its second of the timeline (by *intended* send time);
- latency (histogram, timeline percentiles) is recorded for every request that got an HTTP response,
  whatever the status, and for timeouts at exactly the timeout value (a stalled service must push the
  tail up); it is NOT recorded for connection errors, which have no response time (a refused connect
  takes 0.1 ms and would make a broken service look fast). Those only count as errors.
- ``throughput`` is completed requests (an HTTP response of any status) per wall second of the phase.
- ``error_rate`` is 0.0 when there were no requests; callers must look at ``requests`` for that case.
"""

from __future__ import annotations

import enum
import math
from array import array
from collections.abc import Container
from dataclasses import dataclass

from chaos_operator.analysis.buckets import SecondHistogram, histogram_of
from chaos_operator.load.histogram import LatencyHistogram

SUMMARY_PERCENTILES = (50.0, 90.0, 95.0, 99.0)


class Outcome(enum.Enum):
    SUCCESS = "success"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    HTTP_5XX = "http_5xx"
    UNEXPECTED_STATUS = "unexpected_status"


# Outcomes where the server answered; only these and timeouts carry a latency.
_RESPONDED = frozenset({Outcome.SUCCESS, Outcome.HTTP_5XX, Outcome.UNEXPECTED_STATUS})


def classify_status(status: int, expected: Container[int]) -> Outcome:
    """An expected status is a success even if >= 500; otherwise 5xx, else unexpected."""
    if status in expected:
        return Outcome.SUCCESS
    if status >= 500:
        return Outcome.HTTP_5XX
    return Outcome.UNEXPECTED_STATUS


@dataclass(frozen=True)
class ErrorCounts:
    timeout: int = 0
    connection: int = 0
    http_5xx: int = 0
    unexpected_status: int = 0

    @property
    def total(self) -> int:
        return self.timeout + self.connection + self.http_5xx + self.unexpected_status


@dataclass(frozen=True)
class LatencySummary:
    """Seconds, as floats."""

    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True)
class PhaseSummary:
    requests: int
    errors: int
    error_rate: float
    throughput: float  # completed requests per wall second
    wall_s: float
    latency: LatencySummary | None  # None when no request produced a latency
    error_classes: ErrorCounts


@dataclass(frozen=True)
class TimelinePoint:
    """One second of the phase, by intended send time (second 0 starts at the phase start)."""

    second: int
    requests: int
    errors: int
    p50: float | None  # None when no request in that second produced a latency
    p95: float | None
    latency_count: int = 0
    latency_sum: float = 0.0
    histogram: SecondHistogram = ()  # the second's latencies in 2 % buckets, for the statistical comparisons


def nearest_rank(sorted_values: list[float], q: float) -> float:
    """The smallest value with at least q % of the values <= it (same definition as the histogram)."""
    rank = max(1, math.ceil(round(q * len(sorted_values) / 100.0, 9)))
    return sorted_values[rank - 1]


class _OpenSecond:
    __slots__ = ("errors", "latencies", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.latencies = array("d")  # 8 bytes a sample, freed when the second closes


class PhaseRecorder:
    """Collects one phase's outcomes.

    Timeline seconds stay open (raw latencies, exact per-second percentiles) until ``close_before``
    says no more requests intended before that time will be recorded; the generator knows this from
    its oldest unfinished request, so open state is bounded by rate x (timeout + 1 s).
    """

    def __init__(self) -> None:
        self.latency = LatencyHistogram()
        self.send_lag = LatencyHistogram()  # actual send - intended send, for the benchmark
        self._counts = dict.fromkeys(Outcome, 0)
        # After split(): the requests intended from then on, counted again on their own (the fault's window).
        self.split_s: float | None = None
        self._after_latency = LatencyHistogram()
        self._after_counts = dict.fromkeys(Outcome, 0)
        self._open: dict[int, _OpenSecond] = {}
        self._closed: list[TimelinePoint] = []
        self._closed_before = 0  # seconds < this are closed

    @property
    def requests(self) -> int:
        return sum(self._counts.values())

    def count(self, outcome: Outcome) -> int:
        return self._counts[outcome]

    def record(self, intended_s: float, latency_s: float, outcome: Outcome) -> None:
        """One finished request: intended send time (seconds since phase start) and its latency."""
        if not intended_s >= 0.0:
            raise ValueError(f"intended time must be >= 0, got {intended_s!r}")
        second = int(intended_s)
        if second < self._closed_before:
            raise ValueError(f"second {second} of the timeline is already closed")
        self._counts[outcome] += 1
        after = self.split_s is not None and intended_s >= self.split_s
        if after:
            self._after_counts[outcome] += 1
        bucket = self._open.get(second)
        if bucket is None:
            bucket = self._open[second] = _OpenSecond()
        bucket.requests += 1
        if outcome is not Outcome.SUCCESS:
            bucket.errors += 1
        if outcome in _RESPONDED or outcome is Outcome.TIMEOUT:
            self.latency.record(latency_s)
            bucket.latencies.append(latency_s)
            if after:
                self._after_latency.record(latency_s)

    def split(self, at_s: float) -> None:
        """Requests intended at or after ``at_s`` (seconds since phase start) are also summarised on their own;
        those intended before it stay out of that summary even when they finish later. Once per phase."""
        if self.split_s is not None:
            raise ValueError("a phase is split once")
        if not at_s >= 0.0:
            raise ValueError(f"split time must be >= 0, got {at_s!r}")
        self.split_s = at_s

    def close_before(self, watermark_s: float) -> None:
        """No request intended before ``watermark_s`` will be recorded any more."""
        limit = math.floor(watermark_s)  # second s closes once watermark >= s + 1
        if limit <= self._closed_before:
            return
        for second in sorted(s for s in self._open if s < limit):
            self._closed.append(self._finish(second, self._open.pop(second)))
        self._closed_before = limit

    def timeline(self) -> list[TimelinePoint]:
        """Closes every open second (call once the phase is over) and returns the points in order."""
        for second in sorted(self._open):
            self._closed.append(self._finish(second, self._open.pop(second)))
        if self._closed:
            self._closed_before = max(self._closed_before, self._closed[-1].second + 1)
        return list(self._closed)

    def summary(self, wall_s: float) -> PhaseSummary:
        return _summary(self._counts, self.latency, wall_s)

    def after_split(self, wall_s: float) -> PhaseSummary | None:
        """The summary of the requests intended from the split on (``wall_s``: from the split to the end)."""
        return None if self.split_s is None else _summary(self._after_counts, self._after_latency, wall_s)

    def before_split(self) -> tuple[int, int]:
        """(requests, errors) intended before the split."""
        before = {o: self._counts[o] - self._after_counts[o] for o in Outcome}
        requests = sum(before.values())
        return requests, requests - before[Outcome.SUCCESS]

    @staticmethod
    def _finish(second: int, bucket: _OpenSecond) -> TimelinePoint:
        p50 = p95 = None
        if bucket.latencies:
            values = sorted(bucket.latencies)
            p50, p95 = nearest_rank(values, 50.0), nearest_rank(values, 95.0)
        return TimelinePoint(second=second, requests=bucket.requests, errors=bucket.errors, p50=p50, p95=p95,
                             latency_count=len(bucket.latencies), latency_sum=math.fsum(bucket.latencies),
                             histogram=histogram_of(bucket.latencies))


def _summary(counts: dict[Outcome, int], histogram: LatencyHistogram, wall_s: float) -> PhaseSummary:
    requests = sum(counts.values())
    errors = requests - counts[Outcome.SUCCESS]
    completed = sum(counts[o] for o in _RESPONDED)
    latency = None
    if histogram.count:
        p50, p90, p95, p99 = histogram.percentiles(SUMMARY_PERCENTILES)
        latency = LatencySummary(mean=histogram.mean, p50=p50, p90=p90, p95=p95, p99=p99,
                                 max=histogram.max)
    return PhaseSummary(
        requests=requests,
        errors=errors,
        error_rate=errors / requests if requests else 0.0,
        throughput=completed / wall_s if wall_s > 0 else 0.0,
        wall_s=wall_s,
        latency=latency,
        error_classes=ErrorCounts(
            timeout=counts[Outcome.TIMEOUT],
            connection=counts[Outcome.CONNECTION],
            http_5xx=counts[Outcome.HTTP_5XX],
            unexpected_status=counts[Outcome.UNEXPECTED_STATUS],
        ),
    )
