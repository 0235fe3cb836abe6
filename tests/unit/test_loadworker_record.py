"""The load worker's records (pure): the exact merge of k workers, coverage, each worker's share of the schedule."""

from __future__ import annotations

import math
import random

import pytest

from chaos_operator.loadworker.record import (
    Recorder,
    SecondRecord,
    coverage,
    decode,
    intended_in,
    latency_over,
    merge,
    micros,
    new_histogram,
)
from chaos_operator.loadworker.worker import my_count, scheduled_total


def _worker_records(samples: list[tuple[int, float]]) -> list[SecondRecord]:
    recorder = Recorder()
    for second, latency in samples:
        recorder.scheduled(second)
        recorder.sent(second, 0.0001)
        recorder.finished(second, "2xx", latency, success=True)
    recorder.close_before(10**9)
    return recorder.closed


def test_a_closed_second_holds_the_histogram_of_its_values_recorded_one_by_one() -> None:
    """A closed second's histograms are those of micros() of every value: a negative send lag (clock granularity)
    and a latency beyond the histogram's hour are clamped, not lost or refused."""
    rng = random.Random(7)
    latencies = [rng.lognormvariate(math.log(0.004), 1.0) for _ in range(5000)] + [0.0, 4e-7, 1e-6, 7200.0]
    lags = [rng.uniform(-1e-6, 0.003) for _ in range(len(latencies))]
    recorder = Recorder()
    for latency, lag in zip(latencies, lags, strict=True):
        recorder.scheduled(3)
        recorder.sent(3, lag)
        recorder.finished(3, "2xx", latency, success=True)
    recorder.finished(3, "connection", None)
    recorder.close_before(4)
    (record,) = recorder.closed
    for encoded, values in ((record.latency, latencies), (record.send_lag, lags)):
        one = new_histogram()
        for value in values:
            one.record_value(micros(value))
        got = decode(encoded)
        assert got.get_total_count() == len(values)
        assert (got.get_min_value(), got.get_max_value()) == (one.get_min_value(), one.get_max_value())
        for q in (0.1, 25.0, 50.0, 90.0, 99.0, 99.99, 100.0):
            assert got.get_value_at_percentile(q) == one.get_value_at_percentile(q)
    assert record.outcomes == {"2xx": 5004, "connection": 1}


@pytest.mark.parametrize("workers", [2, 3, 8])
def test_merging_k_workers_gives_the_percentiles_of_one_histogram_of_all_samples(workers: int) -> None:
    rng = random.Random(workers)
    everything: list[tuple[int, float]] = []
    per_worker: list[list[tuple[int, float]]] = [[] for _ in range(workers)]
    for j in range(20_000):
        # Workers see different services: each its own median, so averaging their percentiles would be wrong.
        sample = (j // 2000, rng.lognormvariate(math.log(0.005 * (1 + j % workers)), 0.8))
        per_worker[j % workers].append(sample)
        everything.append(sample)
    merged = merge(_worker_records(samples) for samples in per_worker)
    one = new_histogram()
    for _, latency in everything:
        one.record_value(micros(latency))
    together = latency_over(merged)
    assert together.get_total_count() == len(everything)
    exact = sorted(micros(latency) for _, latency in everything)
    for q in (50.0, 99.0):
        assert together.get_value_at_percentile(q) == one.get_value_at_percentile(q)
        # and that is the true percentile within HDR's precision (3 significant digits)
        true = exact[math.ceil(q / 100 * len(exact)) - 1]
        assert abs(together.get_value_at_percentile(q) - true) <= true / 1000
    assert together.get_max_value() == one.get_max_value()
    assert abs(together.get_max_value() - exact[-1]) <= exact[-1] / 1000
    # Averaging the workers' p99s (what the merge must never do) would be far off here.
    averaged = sum(latency_over(_worker_records(s)).get_value_at_percentile(99.0) for s in per_worker) / workers
    assert abs(averaged - one.get_value_at_percentile(99.0)) > one.get_value_at_percentile(99.0) / 100
    # Per second too: counts summed, histograms added.
    for record in merged:
        assert record.scheduled == record.sent == record.success == record.outcomes["2xx"] == 2000
        assert decode(record.send_lag).get_total_count() == 2000
    print(f"\n{workers} workers merged: p50 {together.get_value_at_percentile(50.0)} us,"
          f" p99 {together.get_value_at_percentile(99.0)} us, max {together.get_max_value()} us;"
          f" one histogram: p50 {one.get_value_at_percentile(50.0)}, p99 {one.get_value_at_percentile(99.0)},"
          f" max {one.get_max_value()}; exact max {exact[-1]} us; workers' p99s averaged: {averaged:.0f} us")


def test_a_lost_worker_shows_as_coverage() -> None:
    rate, seconds, workers = 30.0, 10, 3
    total = scheduled_total(rate, seconds)
    records = []
    for index in range(workers):
        recorder = Recorder()
        for m in range(my_count(total, index, workers)):
            j = index + m * workers
            recorder.scheduled(int(j / rate))
            recorder.finished(int(j / rate), "5xx", 0.01)
        recorder.close_before(10**9)
        records.append(recorder.closed)
    assert coverage(merge(records), rate, 0, seconds) == 1.0
    lost = merge(records[:2])
    assert coverage(lost, rate, 0, seconds) == pytest.approx(2 / 3)
    # A phase cut in the middle: seconds [4, 7) only.
    assert coverage(lost, rate, 4, 7) == pytest.approx(2 / 3)
    assert sum(r.outcomes["5xx"] for r in merge(records)) == total


@pytest.mark.parametrize(("rate", "duration", "workers"), [(50.0, 3.0, 1), (50.0, 3.0, 4), (7.0, 1.0, 8), (0.5, 3.0, 2),
                                                         (5000.0, 1.5, 3), (1.0, 1.0, 3)])
def test_the_workers_shares_add_up_to_the_schedule(rate: float, duration: float, workers: int) -> None:
    total = scheduled_total(rate, duration)
    shares = [my_count(total, index, workers) for index in range(workers)]
    assert sum(shares) == total
    if duration.is_integer():
        assert total == intended_in(rate, 0, int(duration))
    assert max(shares) - min(shares) <= 1


def test_a_closed_second_takes_no_more_samples() -> None:
    recorder = Recorder()
    recorder.scheduled(0)
    recorder.finished(0, "timeout", 2.0)
    recorder.close_before(1)
    with pytest.raises(ValueError, match="already closed"):
        recorder.finished(0, "2xx", 0.1)
    assert [(r.second, r.outcomes) for r in recorder.closed] == [(0, {"timeout": 1})]
    assert decode(recorder.closed[0].latency).get_max_value() == pytest.approx(2_000_000, rel=1e-3)


def test_the_encoding_is_compact() -> None:
    rng = random.Random(1)
    recorder = Recorder()
    for _ in range(5000):
        recorder.scheduled(0)
        recorder.finished(0, "2xx", rng.lognormvariate(math.log(0.02), 1.0))
    recorder.close_before(1)
    # 5000 samples over ~3 decades: the counts array is 184 KB, its compressed base64 a few KB.
    assert len(recorder.closed[0].latency) < 8_000
