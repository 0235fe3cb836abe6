"""What a worker records, per second of its schedule, and the operator's exact merge of k workers (pure).

Second s holds the requests *intended* in [startAt + s, startAt + s + 1). Latency is measured from the intended
send time, in whole microseconds, in an HDR histogram (the ranges of `load/histogram.py`, so records of every
worker add up exactly); a timeout is recorded at the timeout value, a connection error has no latency. A second is
served once it is closed: no request intended in it is still in flight. On the wire each histogram is
HdrHistogram's base64 compressed encoding (a few hundred bytes for a second).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Annotated, Literal

from hdrh.histogram import HdrHistogram
from pydantic import Field

from chaos_operator.load.histogram import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS
from chaos_operator.models.base import ApiModel

Outcome = Literal["2xx", "3xx", "4xx", "5xx", "other", "timeout", "connection"]
OUTCOMES: tuple[Outcome, ...] = ("2xx", "3xx", "4xx", "5xx", "other", "timeout", "connection")
Count = Annotated[int, Field(ge=0)]


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def micros(seconds: float) -> int:
    return int(min(max(round(seconds * 1e6), LOWEST_US), HIGHEST_US))


def decode(encoded: str) -> HdrHistogram:
    histogram = new_histogram()
    if encoded:
        histogram.decode_and_add(encoded)
    return histogram


def encode(histogram: HdrHistogram) -> str:
    return "" if histogram.get_total_count() == 0 else histogram.encode().decode("ascii")


class SecondRecord(ApiModel):
    second: Annotated[int, Field(ge=0)]
    scheduled: Count = 0  # requests intended in this second
    sent: Count = 0  # of those, sent (the others timed out waiting for a slot)
    success: Count = 0  # responses whose status is one of the success codes
    outcomes: dict[Outcome, Count] = {}  # status class, timeout, connection: every request finished lands once
    latency: str = ""  # HDR, µs from the intended send time; responses and timeouts
    send_lag: str = ""  # HDR, µs from the intended to the actual send time; sent requests

    @property
    def accounted(self) -> int:
        return sum(self.outcomes.values())


class WorkerState(ApiModel):
    """What `GET /state` answers: cumulative, so a restarted operator loses nothing by pulling it again."""

    index: Annotated[int, Field(ge=0)]
    workers: Annotated[int, Field(ge=1)]
    start_at: float | None  # unix seconds, once known
    status: Literal["waiting", "running", "done"]
    closed_before: Annotated[int, Field(ge=0)]  # every second below this is final
    seconds: list[SecondRecord]


class _Open:
    __slots__ = ("latency", "outcomes", "scheduled", "send_lag", "sent", "success")

    def __init__(self) -> None:
        self.scheduled = self.sent = self.success = 0
        self.outcomes: dict[Outcome, int] = {}
        self.latency = new_histogram()
        self.send_lag = new_histogram()


def status_outcome(status: int) -> Outcome:
    return {2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}.get(status // 100, "other")  # type: ignore[return-value]


class Recorder:
    """One worker's seconds: open ones in HDR objects, closed ones encoded (memory bounded by the open ones)."""

    def __init__(self) -> None:
        self._open: dict[int, _Open] = {}
        self.closed: list[SecondRecord] = []
        self.closed_before = 0

    def _second(self, second: int) -> _Open:
        if second < self.closed_before:
            raise ValueError(f"second {second} is already closed")
        bucket = self._open.get(second)
        if bucket is None:
            bucket = self._open[second] = _Open()
        return bucket

    def scheduled(self, second: int) -> None:
        self._second(second).scheduled += 1

    def sent(self, second: int, lag_s: float) -> None:
        bucket = self._second(second)
        bucket.sent += 1
        bucket.send_lag.record_value(micros(lag_s))

    def finished(self, second: int, outcome: Outcome, latency_s: float | None, success: bool = False) -> None:
        bucket = self._second(second)
        bucket.outcomes[outcome] = bucket.outcomes.get(outcome, 0) + 1
        bucket.success += success
        if latency_s is not None:
            bucket.latency.record_value(micros(latency_s))

    def close_before(self, second: int) -> None:
        """No request intended before ``second`` will be recorded any more: encode and serve those seconds."""
        if second <= self.closed_before:
            return
        for key in sorted(s for s in self._open if s < second):
            bucket = self._open.pop(key)
            self.closed.append(SecondRecord(
                second=key, scheduled=bucket.scheduled, sent=bucket.sent, success=bucket.success,
                outcomes=dict(bucket.outcomes), latency=encode(bucket.latency), send_lag=encode(bucket.send_lag)))
        self.closed_before = max(self.closed_before, second)


def merge(states: Iterable[Iterable[SecondRecord]]) -> list[SecondRecord]:
    """k workers' records → one per second: counts summed, histograms added (never percentiles averaged)."""
    counts: dict[int, dict[str, int]] = {}
    outcomes: dict[int, dict[Outcome, int]] = {}
    latency: dict[int, list[str]] = {}
    lag: dict[int, list[str]] = {}
    for records in states:
        for rec in records:
            total = counts.setdefault(rec.second, {"scheduled": 0, "sent": 0, "success": 0})
            total["scheduled"] += rec.scheduled
            total["sent"] += rec.sent
            total["success"] += rec.success
            merged = outcomes.setdefault(rec.second, {})
            for outcome, n in rec.outcomes.items():
                merged[outcome] = merged.get(outcome, 0) + n
            for encoded, into in ((rec.latency, latency), (rec.send_lag, lag)):
                if encoded:
                    into.setdefault(rec.second, []).append(encoded)
    return [SecondRecord(second=s, scheduled=c["scheduled"], sent=c["sent"], success=c["success"],
                         outcomes=outcomes[s], latency=_added(latency.get(s, [])), send_lag=_added(lag.get(s, [])))
            for s, c in sorted(counts.items())]


def _added(encoded: list[str]) -> str:
    """Histograms added; one alone is kept as it came (a ~184 KiB counts array per decode otherwise: the operator's
    memory, with one worker per experiment and one histogram per second)."""
    if len(encoded) <= 1:
        return encoded[0] if encoded else ""
    total = new_histogram()
    for one in encoded:
        total.decode_and_add(one)
    return encode(total)


def latency_over(records: Iterable[SecondRecord], first: int = 0, end: int | None = None) -> HdrHistogram:
    """One histogram of the seconds in [first, end): a phase, cut where the operator says it began and ended."""
    total = new_histogram()
    for rec in records:
        if rec.latency and rec.second >= first and (end is None or rec.second < end):
            total.decode_and_add(rec.latency)
    return total


def intended_in(rate: float, first: int, end: int) -> int:
    """Requests the whole schedule (all workers) intends in seconds [first, end): j with first <= j / rate < end."""
    def before(t: int) -> int:
        return max(0, math.ceil(round(rate * t, 9)))
    return before(end) - before(first)


def coverage(records: Iterable[SecondRecord], rate: float, first: int, end: int) -> float:
    """Share of the requests the schedule intended in [first, end) that some worker accounted for. A lost or
    restarted worker's seconds are missing, so they lower it; it is computed from the merged (or raw) records."""
    expected = intended_in(rate, first, end)
    if expected == 0:
        return 1.0
    got = sum(rec.accounted for rec in records if first <= rec.second < end)
    return min(1.0, got / expected)
