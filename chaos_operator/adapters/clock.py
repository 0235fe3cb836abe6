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
        async with asyncio.timeout(max(0.0, seconds)):  # not wait_for: on 3.11 it can swallow a cancellation
            return await work

    async def wait_for(self, event: asyncio.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await event.wait()
        except TimeoutError:
            return event.is_set()
        return True
