"""The halt watch of a chaos window (spec.prometheus.haltWhen).

A breach acts first: the watch only ends the window, whose faults are then reverted, and the runner records the
breach after. A status write that fails or hangs can then delay the record of a halt, never the revert.
"""

from __future__ import annotations

import asyncio
import logging

from chaos_operator.engine.prom import PromChecks
from chaos_operator.engine.recorder import Recorder
from chaos_operator.models.status import Check
from chaos_operator.ports import Clock

log = logging.getLogger(__name__)


async def watch(prom: PromChecks | None, clock: Clock, chaos_end: asyncio.Event, poll_s: float) -> Check | None:
    """Poll the halt conditions until the window ends; on a breach end the window and return the breach."""
    if prom is None or not prom.spec.halt_when:
        return None
    started = clock.now()
    while not chaos_end.is_set():
        breach = await prom.halt_breach(started, clock.now())
        if breach is not None:
            log.warning("%s: halt condition %s breached (%s, limit %s); ending the chaos window",
                        prom.experiment, breach.name, breach.observed, breach.limit)
            chaos_end.set()
            return breach
        await clock.wait_for(chaos_end, poll_s)
    return None


async def record(recorder: Recorder, breach: Check) -> None:
    """The breach in status (a restart still knows it halted) and its Event, once the faults are reverted."""
    await recorder.record_halt(breach)
    await recorder.event("Halted", f"halt condition {breach.name}: {breach.observed} (limit {breach.limit}); "
                                   "the faults were reverted", warning=True)
