"""Latency histogram in seconds: HDR buckets for percentiles, exact count, mean, min and max.

Values are stored as whole microseconds in an HDR histogram covering 1 µs .. 1 h with 3 significant
digits, so memory is fixed (~190 KB) however many samples are recorded. A percentile is reported as
the middle of its bucket (relative error <= 1/2048, plus 0.5 µs rounding), clamped to the exact min/max.
Percentiles use the nearest-rank definition: the smallest value with at least q % of samples <= it.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3
_OBJECT_OVERHEAD_BYTES = 6 * 1024  # the hdrh object, its encoder and our fields (~5 KB by tracemalloc)


class LatencyHistogram:
    __slots__ = ("_count", "_hdr", "_max", "_min", "_sum")

    def __init__(self) -> None:
        self._hdr = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
        self._count = 0
        self._sum = 0.0
        self._min = math.inf
        self._max = 0.0

    def record(self, seconds: float) -> None:
        if not seconds >= 0.0:  # also rejects NaN
            raise ValueError(f"latency must be >= 0, got {seconds!r}")
        micros = min(max(round(seconds * 1e6), LOWEST_US), HIGHEST_US)
        self._hdr.record_value(micros)
        self._count += 1
        self._sum += seconds
        self._min = min(self._min, seconds)
        self._max = max(self._max, seconds)

    @property
    def count(self) -> int:
        return self._count

    @property
    def mean(self) -> float:
        self._require_samples()
        return self._sum / self._count

    @property
    def max(self) -> float:
        self._require_samples()
        return self._max

    @property
    def min(self) -> float:
        self._require_samples()
        return self._min

    def percentile(self, q: float) -> float:
        return self.percentiles([q])[0]

    def percentiles(self, qs: Iterable[float]) -> list[float]:
        """Several percentiles (0..100) in one pass over the buckets."""
        self._require_samples()
        wanted = list(qs)
        for q in wanted:
            if not 0.0 <= q <= 100.0:
                raise ValueError(f"percentile must be within 0..100, got {q!r}")
        # rank k (1-based) of each q; rounding first keeps 95 * 100 / 100 from becoming 95.00000000000001
        ranks = sorted((max(1, math.ceil(round(q * self._count / 100.0, 9))), pos) for pos, q in enumerate(wanted))
        results = [0.0] * len(wanted)
        seen = 0
        next_rank = 0
        hdr = self._hdr
        for index, count in enumerate(hdr.counts):
            if not count:
                continue
            seen += count
            while next_rank < len(ranks) and ranks[next_rank][0] <= seen:
                rank, pos = ranks[next_rank]
                # The first and last ranks are the exact min and max, which we keep anyway.
                if rank == self._count:
                    results[pos] = self._max
                elif rank == 1:
                    results[pos] = self._min
                else:
                    results[pos] = self._bucket_middle_seconds(hdr.get_value_from_index(index))
                next_rank += 1
            if next_rank == len(ranks):
                break
        return results

    def _bucket_middle_seconds(self, micros: int) -> float:
        low: int = self._hdr.get_lowest_equivalent_value(micros)
        high: int = self._hdr.get_highest_equivalent_value(micros)
        middle = (low + high) / 2.0 / 1e6
        return min(max(middle, self._min), self._max)

    def merge(self, other: LatencyHistogram) -> None:
        """Add every sample of ``other`` into this histogram."""
        if not other._count:
            return
        self._hdr.add(other._hdr)
        self._count += other._count
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def memory_bytes(self) -> int:
        """Estimate of the state held: the bucket counts array plus a small fixed overhead."""
        counts_bytes: int = ctypes.sizeof(self._hdr.counts)
        return counts_bytes + _OBJECT_OVERHEAD_BYTES

    def _require_samples(self) -> None:
        if not self._count:
            raise ValueError("histogram is empty")
