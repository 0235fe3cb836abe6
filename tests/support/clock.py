"""`FakeClock`: the one fake of the `Clock` port (`ports.py`) the tests use.

Virtual time: it moves only when every task waits, straight to the next sleeper's deadline (`drive`), so a whole
run takes milliseconds of real time. With `step`, every `monotonic()` reading also moves it on by `step`: a bounded
wait that polls real time ends after a few polls. `now()` is `start` plus the virtual time (readings excluded).
"""

from __future__ import annotations

import asyncio
import datetime
import heapq
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
SETTLE_ROUNDS = 40  # loop turns at least, before time moves
SETTLE_LIMIT = 100_000  # loop turns at most: a task that never waits is a bug of the test, not a reason to hang


class FakeClock:
    """Virtual time: it moves only when every task waits, straight to the next sleeper's deadline."""

    def __init__(self, start: datetime.datetime = EPOCH, step: float = 0.0) -> None:
        self.t = 0.0
        self.start, self.step = start, step
        self._polled = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime.datetime:
        return self.start + datetime.timedelta(seconds=self.t)

    def monotonic(self) -> float:
        self._polled += self.step
        return self.t + self._polled

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(0.0, seconds), next(self._seq), future))
        await future

    async def wait_for(self, event: asyncio.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        waiter = asyncio.ensure_future(event.wait())
        await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, waiter):
            task.cancel()
        return event.is_set()

    async def bounded(self, work: Awaitable[T], seconds: float) -> T:
        task = asyncio.ensure_future(work)
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        try:
            await asyncio.wait({task, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            if not task.done():
                task.cancel()
        if task.done() and not task.cancelled():
            return task.result()
        await asyncio.gather(task, return_exceptions=True)  # the cancellation lands before the timeout is said
        raise TimeoutError

    def at(self, when: float, action: Callable[[], object]) -> None:
        """Run ``action`` at virtual time ``when``."""
        async def later() -> None:
            await self.sleep(when - self.t)
            action()
        asyncio.ensure_future(later())

    async def drive(self, work: Coroutine[Any, Any, T], limit_s: float = 100_000.0) -> T:
        task = asyncio.ensure_future(work)
        while True:
            await _settle()
            if task.done():
                return task.result()
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # cancelled waits
            if not self._sleepers:
                task.cancel()
                raise AssertionError("the run waits for something no clock will bring")
            deadline = self._sleepers[0][0]
            if deadline > limit_s:
                task.cancel()
                raise AssertionError(f"the run is still going at {deadline:g} s of virtual time")
            self.t = max(self.t, deadline)
            while self._sleepers and self._sleepers[0][0] <= self.t:
                future = heapq.heappop(self._sleepers)[2]
                if not future.done():
                    future.set_result(None)


async def _settle() -> None:
    """Let every runnable task reach its next wait. A fixed count of turns let time move while a long chain of
    awaits was still running (a chain that a bounded call or two make longer); so turn until the event loop has
    nothing ready but this task (CPython's ready queue; the count alone where there is none)."""
    ready = getattr(asyncio.get_running_loop(), "_ready", None)
    for turn in range(SETTLE_LIMIT):
        await asyncio.sleep(0)
        if turn >= SETTLE_ROUNDS and not ready:
            return


class SteppingClock(FakeClock):
    """For code run without `drive`: a sleep moves virtual time on by its length at once and lets other tasks run."""

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)
