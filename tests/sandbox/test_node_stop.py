"""The node stops however its loop is woken: a cancellation that arrives in the same instant as a wake-up (a pod
status patch as the sandbox stops) ends the loop. It once did not (Python 3.11's `asyncio.wait_for` returned instead
of raising), and `Sandbox.stop` then waited on the node until its 60 s bound."""

from __future__ import annotations

import asyncio

from chaos_sandbox.cluster import Sandbox


def test_the_node_loop_ends_when_cancelled_as_it_is_woken(sandbox: Sandbox) -> None:
    node = sandbox.node
    assert node is not None

    async def race() -> bool:
        task = node._loop_task
        assert task is not None
        await asyncio.sleep(0.05)  # the loop waits for a wake-up
        node._wake.set()
        task.cancel()  # in the same loop step
        done, _ = await asyncio.wait([task], timeout=5)
        return bool(done) and task.cancelled()

    assert sandbox.emu.run(race(), timeout=15)
