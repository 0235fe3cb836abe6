"""A per-second latency histogram small enough to keep for every second of a run.

Latencies fall into logarithmic buckets 2 % wide from 1 µs up: bucket ``i`` holds
[1 µs × 1.02^i, 1 µs × 1.02^(i+1)), and a bucket stands for its geometric middle, so a value read back is
within 1 % of every latency in its bucket. A second keeps only its occupied buckets as (index, count) pairs,
sorted by index: at 50 requests/s that is a few dozen pairs. The statistical comparisons resample whole
seconds of these (see bootstrap.py); the phase summaries in status keep their own finer HDR histogram.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

GROWTH = 1.02
LOWEST_S = 1e-6
HIGHEST_INDEX = 1200  # 1 µs × 1.02^1200 ≈ 20 000 s: far above any timeout
_LOG_GROWTH = math.log(GROWTH)

SecondHistogram = tuple[tuple[int, int], ...]


def bucket_of(seconds: float) -> int:
    if not seconds >= 0.0:  # also rejects NaN
        raise ValueError(f"latency must be >= 0, got {seconds!r}")
    if seconds <= LOWEST_S:
        return 0
    return min(HIGHEST_INDEX, int(math.log(seconds / LOWEST_S) / _LOG_GROWTH))


def value_of(index: int) -> float:
    """The latency a bucket stands for, in seconds: its geometric middle."""
    return LOWEST_S * math.exp(_LOG_GROWTH * (index + 0.5))


def histogram_of(latencies: Iterable[float]) -> SecondHistogram:
    return tuple(sorted(Counter(bucket_of(v) for v in latencies).items()))


def merged(histograms: Iterable[SecondHistogram]) -> SecondHistogram:
    total: Counter[int] = Counter()
    for histogram in histograms:
        for index, count in histogram:
            total[index] += count
    return tuple(sorted(total.items()))


def quantile(histogram: Sequence[tuple[int, int]], q: float) -> float | None:
    """Nearest-rank quantile (0 < q <= 1) of a sorted histogram; None when it is empty."""
    total = sum(count for _, count in histogram)
    if total <= 0:
        return None
    rank = max(1, math.ceil(round(q * total, 9)))
    seen = 0
    for index, count in histogram:
        seen += count
        if seen >= rank:
            return value_of(index)
    return value_of(histogram[-1][0])
