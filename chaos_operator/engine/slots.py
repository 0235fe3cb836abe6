"""At most so many experiments run at once; the rest wait, first come first served.

Each running experiment holds a load generator, status writers and (for helper faults) pods on nodes: a cap keeps
one operator, and the cluster, from being swamped by a burst of schedules. Only experiments that have not started
wait: one resumed mid-run may hold a live fault and always runs (it counts against the cap).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from chaos_operator.ports import Clock


class Slots:
    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"the cap on running experiments must be at least 1, got {limit}")
        self.limit = limit
        self.running: set[str] = set()
        self.queue: list[str] = []  # uids waiting, in arrival order
        self._freed = asyncio.Event()

    def _room(self, uid: str) -> bool:
        return self.limit is None or (len(self.running) < self.limit and self.queue[:1] in ([], [uid]))

    def take(self, uid: str) -> bool:
        """A slot now, if there is room and nobody waits ahead; False otherwise (the caller queues)."""
        if uid in self.running:
            return True
        if not self._room(uid):
            return False
        self.running.add(uid)
        if uid in self.queue:
            self.queue.remove(uid)
        return True

    def force(self, uid: str) -> None:
        """A run resumed mid-way: it counts, and never waits."""
        self.running.add(uid)

    async def wait(self, uid: str, clock: Clock, give_up: Callable[[], bool], poll_s: float) -> bool:
        """Queue ``uid`` until it gets a slot (True) or ``give_up`` says so (False: it leaves the queue)."""
        if uid not in self.queue:
            self.queue.append(uid)
        try:
            while not self.take(uid):
                if give_up():
                    return False
                self._freed.clear()
                await clock.wait_for(self._freed, poll_s)
            return True
        finally:
            if uid in self.queue and uid not in self.running:
                self.queue.remove(uid)
                self._freed.set()  # the next in line may now be first

    def release(self, uid: str) -> None:
        self.running.discard(uid)
        self._freed.set()

    def describe(self) -> str:
        return f"{len(self.running)} of at most {self.limit} experiments running, {len(self.queue)} queued"
