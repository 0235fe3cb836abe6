"""Open-loop HTTP load (the only module of load/ that imports aiohttp).

Request i of a phase is due at t0 + i / rate. A scheduler puts due requests on a backlog and never
waits for responses; ``concurrency`` workers take them in order, so at most that many are in flight.
Latency is measured from the intended time, so time spent waiting for a slot counts (no coordinated
omission), and a request whose intended time + timeout passes before it completes is a timeout,
recorded at the timeout value. When the phase ends (duration reached or ``stop`` set), scheduling
stops and the backlog and in-flight requests drain, each bounded by its own deadline, so every
scheduled request is accounted for.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass, field
from types import TracebackType

import aiohttp
from yarl import URL

from chaos_operator.load.histogram import LatencyHistogram
from chaos_operator.load.stats import Outcome, PhaseRecorder, PhaseSummary, TimelinePoint, classify_status
from chaos_operator.models.spec import MAX_CONCURRENCY, MAX_LOAD_TIMEOUT_SECONDS, MAX_PHASE_SECONDS, MAX_RATE

METHODS = frozenset({"GET", "HEAD", "POST"})
# 2xx-3xx, except redirects: they are never followed (README.md, "Latency figures"), so a 3xx other than
# 304 Not Modified means the answer was not reached and counts as unexpected_status.
DEFAULT_EXPECTED = frozenset(range(200, 300)) | {304}
DRAIN_CHUNK = 64 * 1024  # bytes of a response body held at once per request
_STOP_POLL_S = 0.05  # longest the scheduler sleeps without looking at the stop event
_BASE_URL = re.compile(r"^https?://[^/?#\s]+$")


@dataclass(frozen=True)
class LoadSpec:
    base_urls: tuple[str, ...]
    path: str = "/"
    method: str = "GET"
    rate: float = 50.0  # requests per second
    concurrency: int = 32
    timeout_s: float = 2.0
    expected_statuses: frozenset[int] = DEFAULT_EXPECTED

    def __post_init__(self) -> None:
        # The CRD caps these, and the code caps them again.
        if not 0 < self.rate <= MAX_RATE:
            raise ValueError(f"rate must be within (0, {MAX_RATE}] requests/s, got {self.rate}")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be within 1..{MAX_CONCURRENCY}, got {self.concurrency}")
        if not 0 < self.timeout_s <= MAX_LOAD_TIMEOUT_SECONDS:
            raise ValueError(f"timeout must be within (0, {MAX_LOAD_TIMEOUT_SECONDS:g}] s, got {self.timeout_s}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        if not self.base_urls:
            raise ValueError("at least one base URL is needed")
        for base in self.base_urls:
            if not _BASE_URL.match(base):
                raise ValueError(f"base URL must be scheme://host[:port] only, got {base!r}")
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/', got {self.path!r}")

    def urls(self) -> list[URL]:
        # Parsed once per phase, not per request.
        return [URL(base + self.path, encoded=True) for base in self.base_urls]


@dataclass(frozen=True)
class PhaseRun:
    """What one phase of load produced. Times are ``loop.time()`` (time.monotonic) seconds."""

    summary: PhaseSummary
    timeline: tuple[TimelinePoint, ...]
    scheduled: int
    stopped_early: bool
    started_mono: float  # when request 0 was due
    finished_mono: float  # when the last request finished
    first_send_mono: float | None  # actual send times of the first and last request sent
    last_send_mono: float | None
    sent: int  # requests that went out (the rest timed out waiting for a slot)
    latency: LatencyHistogram = field(repr=False)
    send_lag: LatencyHistogram = field(repr=False)  # actual send - intended; includes waits for a slot
    split_mono: float | None = None  # when ``split`` was set (loop time), if it was
    after_split: PhaseSummary | None = None  # the requests intended from then on
    before_split: tuple[int, int] | None = None  # (requests, errors) intended before it


def new_session(concurrency: int) -> aiohttp.ClientSession:
    """A session for the load: pooled keep-alive connections, no env proxies, no cookies."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0, ttl_dns_cache=10)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None),  # our own deadline covers slot wait + request
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        headers={"User-Agent": "chaos-operator-load"},
    )


class _Phase:
    def __init__(self, spec: LoadSpec, session: aiohttp.ClientSession, scheduled_max: int) -> None:
        self.spec = spec
        self.session = session
        self.urls = spec.urls()
        self.recorder = PhaseRecorder()
        self.loop = asyncio.get_running_loop()
        self.backlog: asyncio.Queue[int | None] = asyncio.Queue()
        self.scheduled_max = scheduled_max
        self.scheduled = 0
        self.sent = 0
        self.first_send: float | None = None
        self.last_send = 0.0
        self.t0 = 0.0
        self.split_mono: float | None = None
        # Lowest index not yet finished, and finished ones above it: gives the timeline's watermark.
        self.low = 0
        self.finished_above: set[int] = set()

    async def run(self, stop: asyncio.Event | None, split: asyncio.Event | None = None) -> bool:
        """Returns whether ``stop`` ended the phase early."""
        self.t0 = self.loop.time()
        watcher = asyncio.create_task(self._split_when(split)) if split is not None else None
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(self.spec.concurrency):
                    group.create_task(self._worker())
                stopped = await self._schedule(stop)
                for _ in range(self.spec.concurrency):
                    self.backlog.put_nowait(None)
        finally:
            if watcher is not None:
                watcher.cancel()
        return stopped

    async def _split_when(self, split: asyncio.Event) -> None:
        await split.wait()
        self.split_mono = self.loop.time()
        self.recorder.split(max(0.0, self.split_mono - self.t0))

    async def _schedule(self, stop: asyncio.Event | None) -> bool:
        rate, t0, loop, backlog = self.spec.rate, self.t0, self.loop, self.backlog
        i, n = 0, self.scheduled_max
        while i < n:
            if stop is not None and stop.is_set():
                self.scheduled = i
                return True
            now = loop.time()
            due = t0 + i / rate
            if due > now:
                await asyncio.sleep(min(due - now, _STOP_POLL_S))
                continue
            # Wake-ups come up to ~1 ms late (epoll has ms resolution), so enqueue all that are due.
            last = min(n, max(i + 1, math.floor((now - t0) * rate) + 1))
            while i < last:
                backlog.put_nowait(i)
                i += 1
            self.scheduled = i
        return False

    async def _worker(self) -> None:
        backlog = self.backlog
        while True:
            index = await backlog.get()
            if index is None:
                return
            await self._send(index)

    async def _send(self, index: int) -> None:
        spec, loop = self.spec, self.loop
        intended = self.t0 + index / spec.rate
        deadline = intended + spec.timeout_s
        now = loop.time()
        if now >= deadline:  # waited out its whole timeout for a slot
            self._finish(index, spec.timeout_s, Outcome.TIMEOUT)
            return
        self.recorder.send_lag.record(now - intended)
        if self.first_send is None:
            self.first_send = now
        self.last_send = now
        self.sent += 1
        url = self.urls[index % len(self.urls)]
        try:
            async with asyncio.timeout_at(deadline):
                async with self.session.request(spec.method, url, allow_redirects=False) as response:
                    # Drained (the connection is reused) in bounded chunks and dropped: a large body must not
                    # cost memory, with up to `concurrency` requests in flight.
                    async for _ in response.content.iter_chunked(DRAIN_CHUNK):
                        pass
                    status = response.status
        except TimeoutError:  # before ClientError: aiohttp's own timeouts are TimeoutErrors too
            self._finish(index, spec.timeout_s, Outcome.TIMEOUT)
            return
        except (aiohttp.ClientError, OSError):  # refused, reset, DNS, malformed response
            self._finish(index, loop.time() - intended, Outcome.CONNECTION)
            return
        self._finish(index, loop.time() - intended, classify_status(status, spec.expected_statuses))

    def _finish(self, index: int, latency_s: float, outcome: Outcome) -> None:
        rate = self.spec.rate
        self.recorder.record(index / rate, latency_s, outcome)
        if index != self.low:
            self.finished_above.add(index)
            return
        self.low += 1
        while self.low in self.finished_above:
            self.finished_above.remove(self.low)
            self.low += 1
        self.recorder.close_before(self.low / rate)


def scheduled_count(rate: float, duration_s: float) -> int:
    """Requests due strictly before the end: i / rate < duration."""
    return math.ceil(round(rate * duration_s, 9))


async def run_phase(
    spec: LoadSpec,
    duration_s: float,
    stop: asyncio.Event | None = None,
    session: aiohttp.ClientSession | None = None,
    split: asyncio.Event | None = None,
) -> PhaseRun:
    """Drive ``spec`` for ``duration_s`` (or until ``stop`` is set), then drain and summarise. When ``split`` is
    set during the phase, the requests intended from that instant on are also summarised on their own."""
    if not 0 <= duration_s <= MAX_PHASE_SECONDS:
        raise ValueError(f"duration must be within 0..{MAX_PHASE_SECONDS:g} s, got {duration_s}")
    own_session = session is None
    active = new_session(spec.concurrency) if session is None else session
    try:
        phase = _Phase(spec, active, scheduled_count(spec.rate, duration_s))
        stopped = await phase.run(stop, split)
        finished = phase.loop.time()
    finally:
        if own_session:
            await active.close()
    recorder = phase.recorder
    return PhaseRun(
        summary=recorder.summary(finished - phase.t0),
        timeline=tuple(recorder.timeline()),
        scheduled=phase.scheduled,
        stopped_early=stopped,
        started_mono=phase.t0,
        finished_mono=finished,
        first_send_mono=phase.first_send,
        last_send_mono=phase.last_send if phase.first_send is not None else None,
        sent=phase.sent,
        latency=recorder.latency,
        send_lag=recorder.send_lag,
        split_mono=phase.split_mono,
        after_split=None if phase.split_mono is None else recorder.after_split(finished - phase.split_mono),
        before_split=None if phase.split_mono is None else recorder.before_split(),
    )


class LoadGenerator:
    """One spec, one session kept across phases so connections are reused."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self._session: aiohttp.ClientSession | None = None

    async def run_phase(self, duration_s: float, stop: asyncio.Event | None = None,
                        split: asyncio.Event | None = None) -> PhaseRun:
        if self._session is None or self._session.closed:
            self._session = new_session(self.spec.concurrency)
        return await run_phase(self.spec, duration_s, stop, self._session, split)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> LoadGenerator:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

