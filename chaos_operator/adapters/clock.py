"""The real clock."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class SystemClock:
    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def bounded(self, work: Awaitable[T], seconds: float) -> T:
        return await asyncio.wait_for(work, max(0.0, seconds))

    async def wait_for(self, event: asyncio.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        try:
            await asyncio.wait_for(event.wait(), max(0.0, seconds))
        except TimeoutError:
            return event.is_set()
        return True
