"""When coalesced status writes happen: at most one every FLUSH_S, on the Clock (engine/recorder.py writes).

A change that can wait is written at once when the last write is FLUSH_S old, else by one flush due FLUSH_S after
that write; any write meanwhile carries it, and moves the flush on. So the changes of any number of targets cost
at most two writes a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from chaos_operator.ports import Clock

FLUSH_S = 0.5


class Coalescer:
    def __init__(self, clock: Clock, flush: Callable[[], Awaitable[None]]) -> None:
        self._clock = clock
        self._flush = flush  # writes whatever waits; never raises
        self._last_write: float | None = None  # Clock.monotonic() when the last write ended
        self._task: asyncio.Task[None] | None = None

    def wait_s(self) -> float:
        """How long a change made now waits for its write (0 or less: due now)."""
        if self._last_write is None:
            return 0.0
        return self._last_write + FLUSH_S - self._clock.monotonic()

    def wrote(self) -> None:
        """A write ended: it carried every change waiting, so no flush is due until there are new ones."""
        self._last_write = self._clock.monotonic()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self._task = None

    def schedule(self) -> None:
        """A change waits: make sure a flush is due."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._later())

    async def _later(self) -> None:
        while (wait := self.wait_s()) > 0:
            await self._clock.sleep(wait)
        await self._flush()
