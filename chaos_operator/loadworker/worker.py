"""The worker process: `chaos-operator loadworker` / `python -m chaos_operator.loadworker`.

Worker i of k sends requests j = i, i + k, i + 2k, ... of one open-loop schedule at `rate` req/s for all of
them: request j is intended at startAt + j / rate, so the k workers interleave into exactly the configured rate.
A scheduler puts due requests on a backlog and never waits for responses; `concurrency` tasks send them, so
time spent waiting for a slot counts in the latency (no coordinated omission). A request intended before the
worker learned startAt is scheduled but never sent nor accounted: it lowers coverage rather than being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys
import time

from aiohttp import web

from chaos_operator.loadworker.client import Client
from chaos_operator.loadworker.config import Settings, load_settings
from chaos_operator.loadworker.record import Recorder, WorkerState
from chaos_operator.loadworker.server import build_app

DEFAULT_CONFIG = "/etc/chaos-load/config.json"
_POLL_S = 0.05  # longest the scheduler sleeps without looking at the stop event


def my_count(total: int, index: int, workers: int) -> int:
    """How many of the schedule's ``total`` requests fall to worker ``index`` of ``workers``."""
    return max(0, math.ceil((total - index) / workers))


def scheduled_total(rate: float, duration_s: float) -> int:
    """Requests intended strictly before the end: j / rate < duration."""
    return math.ceil(round(rate * duration_s, 9))


class Worker:
    def __init__(self, settings: Settings, client: Client) -> None:
        self.settings = settings
        self.client = client
        self.recorder = Recorder()
        self.start_at = settings.config.start_at
        self.started = asyncio.Event()
        if self.start_at is not None:
            self.started.set()
        self.stop = asyncio.Event()
        self.status: str = "waiting"
        self.loop = asyncio.get_running_loop()
        self.low = 0  # lowest of my requests not yet finished; finished ones above it wait in `above`
        self.above: set[int] = set()

    # --- what the server sees ---
    def set_start(self, start_at: float) -> str | None:
        if self.start_at is not None:
            return None if start_at == self.start_at else f"startAt is already {self.start_at}"
        self.start_at = start_at
        self.started.set()
        return None

    def state(self, since: int) -> WorkerState:
        return WorkerState(index=self.settings.index, workers=self.settings.workers, start_at=self.start_at,
                           status=self.status,  # type: ignore[arg-type]
                           closed_before=self.recorder.closed_before,
                           seconds=[rec for rec in self.recorder.closed if rec.second >= since])

    # --- the schedule ---
    def _global(self, m: int) -> int:
        return self.settings.index + m * self.settings.workers

    async def run(self) -> None:
        waiter = asyncio.create_task(self.started.wait())
        stopper = asyncio.create_task(self.stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        stopper.cancel()
        if self.start_at is None:  # stopped before it was told when to start
            self.status = "done"
            return
        config = self.settings.config
        # Wall-clock startAt on this loop's monotonic clock, read once: the schedule never follows clock steps.
        t0 = self.loop.time() + (self.start_at - time.time())
        total = my_count(scheduled_total(config.rate, config.duration_seconds), self.settings.index,
                         self.settings.workers)
        self.status = "running"
        backlog: asyncio.Queue[int | None] = asyncio.Queue()
        async with asyncio.TaskGroup() as group:
            for _ in range(config.concurrency):
                group.create_task(self._sender(backlog, t0))
            await self._schedule(backlog, t0, total)
            for _ in range(config.concurrency):
                backlog.put_nowait(None)
        self.recorder.close_before(sys.maxsize)
        self.status = "done"

    async def _schedule(self, backlog: asyncio.Queue[int | None], t0: float, total: int) -> None:
        rate, loop, m = self.settings.config.rate, self.loop, 0
        # Requests intended before now were missed (startAt learned late): scheduled, never sent nor accounted.
        while m < total and t0 + self._global(m) / rate < loop.time():
            self.recorder.scheduled(int(self._global(m) / rate))
            self._finished(m)
            m += 1
        while m < total and not self.stop.is_set():
            now = loop.time()
            due = t0 + self._global(m) / rate
            if due > now:
                await asyncio.sleep(min(due - now, _POLL_S))
                continue
            # Wake-ups come up to ~1 ms late (epoll has ms resolution), so enqueue every request that is due.
            while m < total and t0 + self._global(m) / rate <= now:
                self.recorder.scheduled(int(self._global(m) / rate))
                backlog.put_nowait(m)
                m += 1

    async def _sender(self, backlog: asyncio.Queue[int | None], t0: float) -> None:
        config, recorder, loop = self.settings.config, self.recorder, self.loop
        while (m := await backlog.get()) is not None:
            j = self._global(m)
            second = int(j / config.rate)
            intended = t0 + j / config.rate
            deadline = intended + config.timeout_seconds
            now = loop.time()
            if now >= deadline:  # waited out its whole timeout for a slot
                recorder.finished(second, "timeout", config.timeout_seconds)
            else:
                recorder.sent(second, now - intended)
                outcome, success = await self.client.send(deadline)
                latency = None if outcome == "connection" else (
                    config.timeout_seconds if outcome == "timeout" else loop.time() - intended)
                recorder.finished(second, outcome, latency, success)
            self._finished(m)

    def _finished(self, m: int) -> None:
        if m != self.low:
            self.above.add(m)
            return
        self.low += 1
        while self.low in self.above:
            self.above.remove(self.low)
            self.low += 1
        self.recorder.close_before(int(self._global(self.low) / self.settings.config.rate))


async def serve_and_run(settings: Settings) -> int:
    client = Client(settings)
    worker = Worker(settings, client)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop.set)
    runner = web.AppRunner(build_app(settings.state_token, worker.state, worker.set_start), access_log=None)
    await runner.setup()
    config = settings.config
    site = web.TCPSite(runner, config.listen_host, config.port)
    await site.start()
    print(f"loadworker {settings.index}/{settings.workers} listening on port {runner.addresses[0][1]}"
          f" ({type(loop).__module__}.{type(loop).__name__})", flush=True)
    try:
        await worker.run()
        print(f"loadworker {settings.index}: schedule done, serving state for {config.linger_seconds:g} s",
              flush=True)
        try:  # the operator pulls the final state, then deletes the Job; SIGTERM ends the wait
            async with asyncio.timeout(config.linger_seconds):
                await worker.stop.wait()
        except TimeoutError:
            pass
    finally:
        await client.close()
        await runner.cleanup()
    return 0


def _event_loop_runner(coro: object, loop: str) -> int:
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:  # the image has it; a laptop without it still runs, slower
            pass
        else:
            return uvloop.run(coro)  # type: ignore[arg-type]
    return asyncio.run(coro)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos-operator loadworker", description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"the worker's JSON config (default {DEFAULT_CONFIG})")
    # asyncio's own loop only to measure what uvloop brings (benchmarks/loadgen.py)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop", help=argparse.SUPPRESS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings(args.config)
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        print(f"loadworker: {exc}", file=sys.stderr)
        return 2
    return _event_loop_runner(serve_and_run(settings), args.loop)
