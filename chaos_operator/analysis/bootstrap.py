"""Moving-block bootstrap over whole seconds: the sampling spread of a phase's latency quantiles and mean.

Requests in one second share the service's state (a GC pause, a full queue, a fault's burst), so they are
not independent and resampling single requests would give intervals that are too narrow. The unit resampled
here is a block of ``b`` consecutive seconds, each second carrying its latency histogram (buckets.py) and
its counts: a resampled phase is ``round(S / b)`` blocks drawn with replacement from the ``S − b + 1``
overlapping ones (Künsch's moving-block bootstrap), and each replicate's quantile is read from the merged
histogram of those blocks. ``b = ceil(S^(1/3))``, the rate that minimises the error of a block-bootstrap
variance, gives 4 s for a 60 s phase; benchmarks/verdict_calibration.py checks the resulting intervals
against autocorrelated simulated runs.

The draws are seeded, so the same figures always give the same intervals and the same verdict.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from chaos_operator.analysis.buckets import SecondHistogram, merged, quantile, value_of
from chaos_operator.analysis.recovery import SecondSample

QUANTILES: dict[str, float] = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
MEAN = "mean"  # the effective mean: failed requests at the load's timeout (grade.py)
RESAMPLES = 1000
MAX_BLOCK_STARTS = 600  # long phases use every n-th start: bounded memory and time


def block_length(seconds: int) -> int:
    return max(1, min(seconds, math.ceil(round(math.exp(math.log(seconds) / 3.0), 9)))) if seconds > 0 else 1


@dataclass(frozen=True)
class PhaseDraws:
    """One phase: its point estimates and ``RESAMPLES`` bootstrap replicates of each."""

    seconds: int
    requests: int
    errors: int
    latency_n: int
    block: int
    point: dict[str, float | None]
    draws: dict[str, list[float]]
    errors_per_second: tuple[int, ...] = field(default=())
    requests_per_second: tuple[int, ...] = field(default=())
    whole: SecondHistogram = field(default=())  # every second merged


@dataclass
class _Blocks:
    columns: list[int]  # occupied bucket indices, ascending
    counts: list[list[int]]  # per block start: count per column
    scalars: list[tuple[int, int, int, float]]  # per block start: requests, errors, latency_n, latency sum


def resample(samples: Sequence[SecondSample], failed_at_s: float, resamples: int = RESAMPLES,
             seed: int = 0) -> PhaseDraws:
    ordered = sorted(samples, key=lambda s: s.offset_s)
    seconds = len(ordered)
    b = block_length(seconds) if seconds else 0
    requests = sum(s.requests for s in ordered)
    errors = sum(s.errors for s in ordered)
    latency_n = sum(s.latency_count for s in ordered)
    latency_sum = sum(s.latency_sum_s for s in ordered)
    whole = merged(s.histogram for s in ordered)
    point: dict[str, float | None] = {name: quantile(whole, q) for name, q in QUANTILES.items()}
    point[MEAN] = _effective_mean(requests, errors, latency_n, latency_sum, failed_at_s)
    draws: dict[str, list[float]] = {name: [] for name in (*QUANTILES, MEAN)}
    if seconds:
        blocks = _blocks(ordered, b)
        _draw(blocks, max(1, round(seconds / b)), resamples, random.Random(seed), failed_at_s, draws)
    return PhaseDraws(seconds=seconds, requests=requests, errors=errors, latency_n=latency_n, block=b,
                      point=point, draws=draws, errors_per_second=tuple(s.errors for s in ordered),
                      requests_per_second=tuple(s.requests for s in ordered), whole=whole)


def percentile_interval(draws: Sequence[float], confidence: float) -> tuple[float, float] | None:
    """The equal-tailed percentile interval of bootstrap replicates; None without replicates."""
    if not draws:
        return None
    ordered = sorted(draws)
    tail = (1.0 - confidence) / 2.0
    last = len(ordered) - 1
    lo = ordered[max(0, math.floor(tail * last))]
    hi = ordered[min(last, math.ceil((1.0 - tail) * last))]
    return lo, hi


def _effective_mean(requests: int, errors: int, latency_n: int, latency_sum: float,
                    failed_at_s: float) -> float | None:
    if requests <= 0:
        return None
    e = min(1.0, errors / requests)
    answered = latency_sum / latency_n if latency_n else failed_at_s
    return answered * (1.0 - e) + failed_at_s * e


def _blocks(ordered: Sequence[SecondSample], b: int) -> _Blocks:
    columns = sorted({index for s in ordered for index, _ in s.histogram})
    where = {index: j for j, index in enumerate(columns)}
    window = [0] * len(columns)
    scalar = [0, 0, 0, 0.0]

    def add(sample: SecondSample, sign: int) -> None:
        for index, count in sample.histogram:
            window[where[index]] += sign * count
        scalar[0] += sign * sample.requests
        scalar[1] += sign * sample.errors
        scalar[2] += sign * sample.latency_count
        scalar[3] += sign * sample.latency_sum_s

    for sample in ordered[:b]:
        add(sample, 1)
    starts = len(ordered) - b + 1
    stride = math.ceil(starts / MAX_BLOCK_STARTS)
    result = _Blocks(columns, [], [])
    for start in range(starts):
        if start:
            add(ordered[start + b - 1], 1)
            add(ordered[start - 1], -1)
        if start % stride == 0:
            result.counts.append(list(window))
            result.scalars.append((int(scalar[0]), int(scalar[1]), int(scalar[2]), float(scalar[3])))
    return result


def _draw(blocks: _Blocks, k: int, resamples: int, rng: random.Random, failed_at_s: float,
          draws: dict[str, list[float]]) -> None:
    starts = range(len(blocks.counts))
    columns = blocks.columns
    for _ in range(resamples):
        picks = rng.choices(starts, k=k)
        requests = errors = latency_n = 0
        latency_sum = 0.0
        for pick in picks:
            r, x, n, total = blocks.scalars[pick]
            requests, errors, latency_n, latency_sum = requests + r, errors + x, latency_n + n, latency_sum + total
        mean = _effective_mean(requests, errors, latency_n, latency_sum, failed_at_s)
        if mean is not None:
            draws[MEAN].append(mean)
        if not columns or latency_n <= 0:
            continue
        cumulative = list(accumulate(map(sum, zip(*(blocks.counts[p] for p in picks), strict=True))))
        total_n = cumulative[-1]
        for name, q in QUANTILES.items():
            rank = max(1, math.ceil(round(q * total_n, 9)))
            draws[name].append(value_of(columns[bisect_left(cumulative, rank)]))
