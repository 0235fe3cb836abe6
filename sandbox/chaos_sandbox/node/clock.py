"""The node's controller clock: real UTC time plus an offset that tests (and `Sandbox.advance_clock`) move forward.

The Job and CronJob controllers read time only from here, so a minute (or weekly) schedule fires as soon as the
clock is advanced past its next fire time, without waiting for it. Everything those controllers write
(`lastScheduleTime`, a Job's `startTime`, `completionTime`) is on this clock, and `activeDeadlineSeconds` and
`ttlSecondsAfterFinished` count on it too: advancing it is time passing for them. Pods, the API server's
`creationTimestamp` and the operator keep real time; `at` maps such a real time to the clock (with the offset in
force then), so a CronJob created after an advance is not due at once for the time skipped before it existed.
"""

from __future__ import annotations

import datetime


class Clock:
    def __init__(self) -> None:
        self.offset = datetime.timedelta(0)
        self._advances: list[tuple[datetime.datetime, datetime.timedelta]] = []  # (real time, offset from then)

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC) + self.offset

    def at(self, real: datetime.datetime) -> datetime.datetime:
        """A real moment (e.g. a `creationTimestamp`) on this clock."""
        offset = datetime.timedelta(0)
        for when, after in self._advances:
            if real >= when:
                offset = after
        return real + offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the sandbox's clock only moves forward")
        self.offset += datetime.timedelta(seconds=seconds)
        self._advances.append((datetime.datetime.now(datetime.UTC), self.offset))
