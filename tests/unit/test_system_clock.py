"""The operator's clock stops when its task is cancelled, even as the awaited event is set in the same instant.

Python 3.11's `asyncio.wait_for` returns the result instead of raising when a cancellation arrives after the
awaited future completed but before the waiting task resumed, so a loop built on it may never end; the clock uses
`asyncio.timeout`, which does not."""

from __future__ import annotations

import asyncio

from chaos_operator.adapters.clock import SystemClock


async def cancelled_as_woken(wait: object) -> bool:
    event = asyncio.Event()

    async def loop_until_cancelled() -> None:
        while True:  # what a watch loop does: wait, act, wait again
            await wait(event)  # type: ignore[operator]
            event.clear()

    task = asyncio.create_task(loop_until_cancelled())
    await asyncio.sleep(0.01)  # the task now waits on the event
    event.set()
    task.cancel()  # in the same loop step as the wake-up
    done, _ = await asyncio.wait([task], timeout=2)
    if not done:
        task.cancel()
        await asyncio.wait([task], timeout=2)
    return bool(done) and task.cancelled()


def test_wait_for_ends_on_a_cancellation_that_arrives_with_the_event() -> None:
    clock = SystemClock()
    assert asyncio.run(cancelled_as_woken(lambda event: clock.wait_for(event, 10)))


def test_bounded_ends_on_a_cancellation_that_arrives_with_the_event() -> None:
    clock = SystemClock()
    assert asyncio.run(cancelled_as_woken(lambda event: clock.bounded(event.wait(), 10)))


def test_the_race_is_real_with_asyncio_wait_for() -> None:
    """The control: the same race with 3.11's `asyncio.wait_for` loses the cancellation (on 3.12+ it does not)."""
    import sys
    lost = not asyncio.run(cancelled_as_woken(lambda event: asyncio.wait_for(event.wait(), 10)))  # noqa: TID251
    assert lost == (sys.version_info < (3, 12))
