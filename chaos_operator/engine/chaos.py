"""The chaos window: injection rounds, the workload watch, and recovery of every record."""

from __future__ import annotations

import asyncio
import logging

from chaos_operator.engine import lifecycle
from chaos_operator.engine.recorder import Recorder
from chaos_operator.faults.base import Fault, FaultContext, FaultError
from chaos_operator.models.status import Injection, TargetRef

log = logging.getLogger(__name__)
MAX_RECORDS = 1000  # the CRD's maxItems for injections
RECOVER_TIMEOUT_S = 30.0


class ChaosWindow:
    def __init__(self, rec: Recorder, fault: Fault, ctx: FaultContext, stop: asyncio.Event,
                 poll_s: float) -> None:
        self.rec = rec
        self.fault = fault
        self.ctx = ctx
        self.stop = stop
        self.poll_s = poll_s
        self.last_injection_mono: float | None = None
        self.whole_at_mono: float | None = None  # first time the workload was whole after the last round
        self._watch: asyncio.Task[None] | None = None

    async def inject_round(self, targets: list[TargetRef]) -> int:
        """Write-ahead Pending records, then apply each; returns how many were injected."""
        room = MAX_RECORDS - len(self.rec.status.injections)
        if room < len(targets):
            log.warning("record limit reached; no further injection rounds")
            return 0
        first = await self.rec.add_injections(
            [Injection(target=t.name, uid=t.uid, state="Pending") for t in targets])
        injected: list[str] = []
        for offset in range(len(targets)):
            if self.stop.is_set():
                break
            index = first + offset
            record = self.rec.status.injections[index]
            try:
                changes = await self.fault.apply(self.ctx, record)
            except FaultError as exc:
                await self.rec.set_injection(index, state="Failed", message=str(exc)[:1024])
                await self.rec.event("InjectionFailed", f"{record.target}: {exc}", warning=True)
                continue
            await self.rec.set_injection(index, state="Injected", injected_at=self.rec.timestamp(), **changes)
            injected.append(record.target)
        if injected:
            self.last_injection_mono = self.ctx.clock.monotonic()
            await self.rec.event("Injected", f"{self.fault.kind} injected into {', '.join(injected)}")
            self._restart_watch()
        return len(injected)

    async def recover_all(self) -> None:
        """Recover every record that may be live. Idempotent, bounded per record."""
        recovered: list[str] = []
        for index in lifecycle.pending_recovery(self.rec.status):
            record = self.rec.status.injections[index]
            try:
                await asyncio.wait_for(self.fault.recover(self.ctx, record), RECOVER_TIMEOUT_S)
            except Exception as exc:
                await self.rec.set_injection(index, state="Failed", message=f"recovery failed: {exc}"[:1024])
                await self.rec.event("RecoveryFailed", f"{record.target}: {exc}", warning=True)
                continue
            await self.rec.set_injection(index, state="Recovered", recovered_at=self.rec.timestamp())
            recovered.append(record.target)
        if recovered:
            await self.rec.event("Recovered", f"{self.fault.kind} recovered on {', '.join(recovered)}")

    def _restart_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        self.whole_at_mono = None
        self._watch = asyncio.create_task(self._watch_whole())

    async def _watch_whole(self) -> None:
        # Polls verify() until the workload is whole again; the time feeds the recovery figure.
        records = [r for r in self.rec.status.injections if r.state == "Injected"]
        if not records:
            return
        while True:
            try:
                if await self.fault.verify(self.ctx, records[-1]):
                    self.whole_at_mono = self.ctx.clock.monotonic()
                    return
            except Exception as exc:
                log.warning("verify failed: %s", exc)
            await asyncio.sleep(self.poll_s)

    async def stop_watch(self) -> None:
        if self._watch is not None and not self._watch.done():
            self._watch.cancel()
            try:
                await self._watch
            except asyncio.CancelledError:
                pass
