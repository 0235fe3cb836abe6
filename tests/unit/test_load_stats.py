from __future__ import annotations

import pytest

from chaos_operator.analysis.buckets import histogram_of
from chaos_operator.load.stats import (
    ErrorCounts,
    Outcome,
    PhaseRecorder,
    TimelinePoint,
    classify_status,
    nearest_rank,
)

OK = Outcome.SUCCESS
EXPECTED_2XX_3XX = frozenset(range(200, 400))


@pytest.mark.parametrize(
    ("status", "expected", "outcome"),
    [
        (200, EXPECTED_2XX_3XX, OK),
        (204, EXPECTED_2XX_3XX, OK),
        (302, EXPECTED_2XX_3XX, OK),
        (399, EXPECTED_2XX_3XX, OK),
        (404, EXPECTED_2XX_3XX, Outcome.UNEXPECTED_STATUS),
        (101, EXPECTED_2XX_3XX, Outcome.UNEXPECTED_STATUS),
        (500, EXPECTED_2XX_3XX, Outcome.HTTP_5XX),
        (503, EXPECTED_2XX_3XX, Outcome.HTTP_5XX),
        (302, frozenset({200}), Outcome.UNEXPECTED_STATUS),  # a redirect the caller did not expect
        (503, frozenset({200, 503}), OK),  # expected wins over the 5xx class
    ],
)
def test_classify_status(status: int, expected: frozenset[int], outcome: Outcome) -> None:
    assert classify_status(status, expected) is outcome


def _record_all(recorder: PhaseRecorder, rows: list[tuple[float, float, Outcome]]) -> None:
    for intended, latency, outcome in rows:
        recorder.record(intended, latency, outcome)


def test_timeline_buckets_by_intended_second() -> None:
    recorder = PhaseRecorder()
    _record_all(recorder, [
        (0.0, 0.010, OK),
        (0.5, 0.030, OK),
        (0.999, 0.020, Outcome.HTTP_5XX),
        (1.0, 0.200, Outcome.TIMEOUT),  # second 1 even though it finished later
        (1.5, 0.001, Outcome.CONNECTION),  # counted, but no latency
        (3.2, 0.005, Outcome.CONNECTION),  # a second with only connection errors
    ])
    assert recorder.timeline() == [
        TimelinePoint(second=0, requests=3, errors=1, p50=0.020, p95=0.030, latency_count=3, latency_sum=0.060,
                      histogram=histogram_of([0.010, 0.030, 0.020])),
        TimelinePoint(second=1, requests=2, errors=2, p50=0.200, p95=0.200, latency_count=1, latency_sum=0.200,
                      histogram=histogram_of([0.200])),
        TimelinePoint(second=3, requests=1, errors=1, p50=None, p95=None),
    ]


def test_close_before_finalises_only_seconds_fully_below_the_watermark() -> None:
    recorder = PhaseRecorder()
    _record_all(recorder, [(0.2, 0.01, OK), (1.2, 0.02, OK), (2.2, 0.03, OK)])
    recorder.close_before(1.99)  # second 1 may still get records
    recorder.record(1.9, 0.04, OK)
    recorder.close_before(2.0)
    with pytest.raises(ValueError, match="closed"):
        recorder.record(1.95, 0.01, OK)
    assert [(p.second, p.requests) for p in recorder.timeline()] == [(0, 1), (1, 2), (2, 1)]


def test_latency_histogram_holds_responses_and_timeouts_not_connection_errors() -> None:
    recorder = PhaseRecorder()
    _record_all(recorder, [
        (0.0, 0.010, OK),
        (0.1, 0.020, Outcome.HTTP_5XX),
        (0.2, 0.030, Outcome.UNEXPECTED_STATUS),
        (0.3, 2.000, Outcome.TIMEOUT),
        (0.4, 0.0001, Outcome.CONNECTION),
    ])
    assert recorder.latency.count == 4
    assert recorder.latency.max == 2.0
    assert recorder.requests == 5
    assert recorder.count(Outcome.CONNECTION) == 1


@pytest.mark.parametrize(
    ("outcomes", "wall_s", "error_rate", "throughput"),
    [
        ({OK: 100}, 2.0, 0.0, 50.0),
        ({OK: 90, Outcome.HTTP_5XX: 10}, 2.0, 0.1, 50.0),  # 5xx responses completed
        ({OK: 50, Outcome.TIMEOUT: 25, Outcome.CONNECTION: 25}, 1.0, 0.5, 50.0),  # these did not
        ({Outcome.UNEXPECTED_STATUS: 4}, 0.5, 1.0, 8.0),
        ({OK: 3}, 0.0, 0.0, 0.0),  # no wall time, no throughput (and no division by zero)
    ],
)
def test_summary_math(outcomes: dict[Outcome, int], wall_s: float, error_rate: float, throughput: float) -> None:
    recorder = PhaseRecorder()
    for outcome, count in outcomes.items():
        for i in range(count):
            recorder.record(i * 0.01, 0.01, outcome)
    summary = recorder.summary(wall_s)
    assert summary.requests == sum(outcomes.values())
    assert summary.errors == summary.requests - outcomes.get(OK, 0)
    assert summary.errors == summary.error_classes.total
    assert summary.error_rate == pytest.approx(error_rate)
    assert summary.throughput == pytest.approx(throughput)
    assert summary.wall_s == wall_s


def test_summary_error_classes_and_latency_figures() -> None:
    recorder = PhaseRecorder()
    latencies = [0.001 * (i + 1) for i in range(100)]  # 1..100 ms
    for i, value in enumerate(latencies):
        recorder.record(i * 0.01, value, OK)
    _record_all(recorder, [
        (1.0, 0.5, Outcome.TIMEOUT),
        (1.1, 0.001, Outcome.CONNECTION),
        (1.2, 0.002, Outcome.HTTP_5XX),
        (1.3, 0.003, Outcome.UNEXPECTED_STATUS),
        (1.4, 0.004, Outcome.UNEXPECTED_STATUS),
    ])
    summary = recorder.summary(1.5)
    assert summary.error_classes == ErrorCounts(timeout=1, connection=1, http_5xx=1, unexpected_status=2)
    latency = summary.latency
    assert latency is not None
    everything = sorted([*latencies, 0.5, 0.002, 0.003, 0.004])
    assert latency.mean == pytest.approx(sum(everything) / len(everything))
    for q, got in ((50, latency.p50), (90, latency.p90), (95, latency.p95), (99, latency.p99)):
        assert got == pytest.approx(nearest_rank(everything, q), rel=1e-3)
    assert latency.max == 0.5


def test_zero_requests() -> None:
    summary = PhaseRecorder().summary(10.0)
    assert summary.requests == 0
    assert summary.errors == 0
    assert summary.error_rate == 0.0
    assert summary.throughput == 0.0
    assert summary.latency is None
    assert PhaseRecorder().timeline() == []


def test_only_connection_errors_leave_latency_absent() -> None:
    recorder = PhaseRecorder()
    _record_all(recorder, [(0.0, 0.001, Outcome.CONNECTION), (0.5, 0.001, Outcome.CONNECTION)])
    summary = recorder.summary(1.0)
    assert summary.latency is None
    assert summary.error_rate == 1.0


@pytest.mark.parametrize("intended", [-0.1, float("nan")])
def test_rejects_bad_intended_time(intended: float) -> None:
    with pytest.raises(ValueError):
        PhaseRecorder().record(intended, 0.01, OK)


def test_a_split_summarises_the_requests_intended_after_it_on_their_own() -> None:
    recorder = PhaseRecorder()
    _record_all(recorder, [(0.0, 0.010, OK), (0.5, 0.010, Outcome.CONNECTION)])
    recorder.split(1.0)
    _record_all(recorder, [
        (0.9, 1.500, Outcome.TIMEOUT),  # intended before the split, finished after it: still the ramp's
        (1.0, 0.100, OK),
        (1.5, 0.300, Outcome.HTTP_5XX),
    ])
    after = recorder.after_split(2.0)
    assert after is not None
    assert (after.requests, after.errors, after.error_classes.http_5xx, after.error_classes.timeout) == (2, 1, 1, 0)
    assert after.latency is not None and after.latency.mean == pytest.approx(0.2)
    assert after.throughput == 1.0  # 2 answered in 2 s
    assert recorder.before_split() == (3, 2)
    assert recorder.summary(3.0).requests == 5  # the whole phase is unchanged
    with pytest.raises(ValueError):
        recorder.split(2.0)


def test_no_split_means_no_separate_summary() -> None:
    recorder = PhaseRecorder()
    _record_all(recorder, [(0.0, 0.010, OK)])
    assert recorder.after_split(1.0) is None
