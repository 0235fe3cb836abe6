"""Which experiments have a run at work in this operator: deletion has one owner of cleanup at a time.

kopf signals a daemon to stop on deletion and calls the deletion handler without waiting for it to end. The
stopping run recovers its own faults; a cleanup working from the deletion event's (older) status at the same
time recovered them again: revert-only helpers for faults already reverted. So the cleanup waits while the run
is at work, then reads the status afresh (runtime/handlers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class Owners:
    def __init__(self) -> None:
        self._working: dict[str, int] = {}  # experiment uid -> daemons at work (kopf may overlap two briefly)

    @contextmanager
    def working(self, uid: str) -> Iterator[None]:
        self._working[uid] = self._working.get(uid, 0) + 1
        try:
            yield
        finally:
            self._working[uid] -= 1
            if not self._working[uid]:
                del self._working[uid]

    def busy(self, uid: str) -> bool:
        return uid in self._working
