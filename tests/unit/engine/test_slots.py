"""engine/slots.py on the virtual clock: the cap, first come first served, resumed runs, giving up."""

from __future__ import annotations

import asyncio

import pytest

from chaos_operator.engine.slots import Slots
from tests.support.clock import FakeClock

POLL = 0.2


def test_no_cap_never_waits_and_a_cap_below_one_is_refused() -> None:
    slots = Slots()
    assert all(slots.take(f"u{i}") for i in range(100))
    with pytest.raises(ValueError, match="at least 1"):
        Slots(0)


async def test_past_the_cap_runs_wait_in_arrival_order_until_a_slot_frees() -> None:
    clock, slots = FakeClock(), Slots(2)
    assert slots.take("a") and slots.take("b") and not slots.take("c")
    started: list[tuple[float, str]] = []

    async def queued(uid: str) -> None:
        assert await slots.wait(uid, clock, lambda: False, POLL)
        started.append((clock.t, uid))

    async def scenario() -> None:
        waiters = [asyncio.ensure_future(queued(uid)) for uid in ("c", "d")]
        await clock.sleep(5)
        assert slots.queue == ["c", "d"] and "2 of at most 2 experiments running, 2 queued" == slots.describe()
        slots.release("a")
        await clock.sleep(5)
        slots.release("b")
        await asyncio.gather(*waiters)

    await clock.drive(scenario())
    assert [uid for _, uid in started] == ["c", "d"]
    assert started[0][0] <= 5 + POLL and started[1][0] <= 10 + POLL
    assert slots.running == {"c", "d"} and slots.queue == []


async def test_a_newcomer_never_jumps_the_queue() -> None:
    clock, slots = FakeClock(), Slots(1)
    slots.take("a")

    async def scenario() -> bool:
        waiter = asyncio.ensure_future(slots.wait("b", clock, lambda: False, POLL))
        await clock.sleep(1)
        slots.release("a")
        jumped = slots.take("c")  # arrives while b is first in line
        await waiter
        return jumped

    assert await clock.drive(scenario()) is False
    assert slots.running == {"b"}


async def test_a_resumed_run_counts_without_waiting_and_giving_up_leaves_the_queue() -> None:
    clock, slots = FakeClock(), Slots(1)
    slots.take("a")
    slots.force("resumed")  # may hold a live fault: over the cap rather than wait
    assert slots.running == {"a", "resumed"}
    abort = False

    async def scenario() -> bool:
        waiter = asyncio.ensure_future(slots.wait("b", clock, lambda: abort, POLL))
        await clock.sleep(3)
        nonlocal abort
        abort = True
        return await waiter

    assert await clock.drive(scenario()) is False
    assert slots.queue == [] and "b" not in slots.running
