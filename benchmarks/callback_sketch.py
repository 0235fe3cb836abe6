"""A sketch, for benchmarks/loadgen.py part 5 (workerbench.py runs it as a floor): the load worker's per-request
work driven by asyncio Protocol callbacks instead of a coroutine per request, to measure what such a redesign of
`chaos_operator/loadworker/worker.py` and `http1.py` would save before doing it. Not the worker: no retry, no
TLS, no timeout accounting, no state server."""

from __future__ import annotations

import asyncio
import collections
from typing import cast

import httptools

from chaos_operator.loadworker.http1 import request_bytes
from chaos_operator.loadworker.record import Recorder, new_histogram, status_outcome


async def callbacks(url: str, requests: int, connections: int, lean: bool = False) -> None:
    """The worker's per-request work without a coroutine per request: the open-loop schedule onto a deque, httptools
    framing, a deadline timer per request and the Recorder's HDR records, all driven by Protocol callbacks. `lean`:
    one deadline sweep every 10 ms instead of a timer per request, latencies counted per µs in a dict and put in
    an HDR histogram at the end (what a second's close would do; the histogram is built for its cost only). The
    lean path also leaves out the per-second sent, outcome and success counts: a few tenths of a µs per request,
    not measured apart, which flatters it by that much."""
    host, port = url.split("//")[1].split(":")
    request = request_bytes("GET", f"{host}:{port}", "/", {"User-Agent": "floor"}, None)
    loop, recorder, rate = asyncio.get_running_loop(), Recorder(), 100_000.0
    backlog: collections.deque[int] = collections.deque()
    idle: list[Conn] = []
    finished = loop.create_future()
    left, t0 = requests, loop.time()
    counts: dict[int, int] = {}
    busy: dict[Conn, float] = {}

    def sweep() -> None:
        now = loop.time()
        for conn in [c for c, deadline in busy.items() if deadline <= now]:
            conn.transport.close()
        if not finished.done():
            loop.call_later(0.01, sweep)

    class Conn(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport, self.parser = cast(asyncio.Transport, transport), httptools.HttpResponseParser(self)
            self.j, self.timer = 0, loop.call_at(0, lambda: None)
            idle.append(self)

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_message_complete(self) -> None:
            nonlocal left
            code = self.parser.get_status_code()
            if lean:
                del busy[self]
                us = round((loop.time() - t0 - self.j / rate) * 1e6)
                counts[us] = counts.get(us, 0) + 1
            else:
                self.timer.cancel()
                recorder.finished(int(self.j / rate), status_outcome(code), loop.time() - t0 - self.j / rate,
                                  code == 200)
            left -= 1
            if left == 0:
                finished.set_result(None)
            self.next()

        def next(self) -> None:
            if not backlog:
                idle.append(self)
                return
            self.j = j = backlog.popleft()
            if lean:
                busy[self] = t0 + j / rate + 60
                us = round((loop.time() - t0 - j / rate) * 1e6)
                counts[us] = counts.get(us, 0) + 1
            else:
                recorder.sent(int(j / rate), loop.time() - t0 - j / rate)
                self.timer = loop.call_at(t0 + j / rate + 60, self.transport.close)
            self.transport.write(request)

    for _ in range(connections):
        await loop.create_connection(Conn, host, int(port))
    t0, m = loop.time(), 0
    if lean:
        sweep()
    while m < requests:
        while m < requests and t0 + m / rate <= loop.time():
            recorder.scheduled(int(m / rate))
            backlog.append(m)
            m += 1
        while idle and backlog:
            idle.pop().next()
        await asyncio.sleep(0.001)
    await finished
    histogram = new_histogram()
    for value, n in counts.items():
        histogram.record_value(max(1, value), n)
