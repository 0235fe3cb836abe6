from __future__ import annotations

import math
import random

import pytest

from chaos_operator.load.histogram import LatencyHistogram
from chaos_operator.load.stats import nearest_rank


def _uniform_ms(rng: random.Random) -> list[float]:
    return [rng.uniform(0.0005, 0.250) for _ in range(20_000)]


def _lognormal(rng: random.Random) -> list[float]:
    return [min(rng.lognormvariate(math.log(0.01), 1.2), 3000.0) for _ in range(20_000)]


def _bimodal(rng: random.Random) -> list[float]:
    return [rng.gauss(0.002, 0.0002) if rng.random() < 0.9 else rng.gauss(1.0, 0.05) for _ in range(20_000)]


def _few_exact() -> list[float]:
    return [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.010]


SAMPLES = {
    "uniform 0.5-250 ms": _uniform_ms(random.Random(1)),
    "lognormal around 10 ms": _lognormal(random.Random(2)),
    "bimodal 2 ms / 1 s": [abs(v) for v in _bimodal(random.Random(3))],
    "ten values": _few_exact(),
    "one value": [0.0421],
    "long tail to 50 min": [0.001] * 999 + [3000.0],
}
PERCENTILES = (0.0, 1.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_percentiles_within_a_tenth_of_a_percent_of_exact(name: str) -> None:
    values = SAMPLES[name]
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    exact_sorted = sorted(values)
    got = histogram.percentiles(PERCENTILES)
    for q, value in zip(PERCENTILES, got, strict=True):
        exact = nearest_rank(exact_sorted, q)
        assert abs(value - exact) <= 0.001 * exact, (q, value, exact)
    assert histogram.percentile(50.0) == got[2]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_count_mean_min_max_are_exact(name: str) -> None:
    values = SAMPLES[name]
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    assert histogram.count == len(values)
    assert histogram.mean == pytest.approx(sum(values) / len(values), rel=1e-12)
    assert histogram.max == max(values)
    assert histogram.min == min(values)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([0.001, 0.002, 0.003, 0.004], 50.0, 0.002),  # nearest rank: ceil(0.5 * 4) = 2nd
        ([0.001, 0.002, 0.003, 0.004], 75.0, 0.003),
        ([0.001, 0.002, 0.003, 0.004], 75.1, 0.004),
        ([0.001, 0.002, 0.003, 0.004], 0.0, 0.001),
        ([0.001, 0.002, 0.003, 0.004], 100.0, 0.004),
    ],
)
def test_nearest_rank_definition(values: list[float], q: float, expected: float) -> None:
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    assert histogram.percentile(q) == pytest.approx(expected, rel=1e-3)
    assert nearest_rank(values, q) == expected


def test_empty_histogram_has_no_figures() -> None:
    histogram = LatencyHistogram()
    assert histogram.count == 0
    with pytest.raises(ValueError, match="empty"):
        _ = histogram.mean
    with pytest.raises(ValueError, match="empty"):
        _ = histogram.max
    with pytest.raises(ValueError, match="empty"):
        histogram.percentile(50)


@pytest.mark.parametrize("bad", [-0.001, math.nan])
def test_rejects_negative_and_nan(bad: float) -> None:
    with pytest.raises(ValueError):
        LatencyHistogram().record(bad)


@pytest.mark.parametrize("q", [-1.0, 100.5])
def test_rejects_percentile_outside_range(q: float) -> None:
    histogram = LatencyHistogram()
    histogram.record(0.01)
    with pytest.raises(ValueError):
        histogram.percentile(q)


def test_values_beyond_an_hour_are_clamped_but_max_stays_exact() -> None:
    histogram = LatencyHistogram()
    histogram.record(7200.0)
    histogram.record(0.0)  # below 1 µs: counted in the lowest bucket
    assert histogram.max == 7200.0
    assert histogram.percentile(100.0) == 7200.0
    assert histogram.percentile(0.0) == 0.0


def test_merge_equals_recording_everything_into_one() -> None:
    rng = random.Random(7)
    left_values = [rng.uniform(0.001, 0.1) for _ in range(5000)]
    right_values = [rng.uniform(0.05, 2.0) for _ in range(3000)]
    left, right, both = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for value in left_values:
        left.record(value)
        both.record(value)
    for value in right_values:
        right.record(value)
        both.record(value)
    left.merge(right)
    left.merge(LatencyHistogram())  # merging an empty one changes nothing
    assert left.count == both.count
    assert left.mean == pytest.approx(both.mean, rel=1e-12)
    assert left.max == both.max and left.min == both.min
    assert left.percentiles(PERCENTILES) == both.percentiles(PERCENTILES)


def test_memory_is_fixed_and_under_a_megabyte() -> None:
    histogram = LatencyHistogram()
    before = histogram.memory_bytes()
    for i in range(10_000):
        histogram.record(i * 1e-4)
    assert histogram.memory_bytes() == before
    assert before < 1_000_000
