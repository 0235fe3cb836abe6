"""The chaos window: injection rounds, the workload watch, the helper watch, and recovery of every record.

Faults are applied, and recovered, for all targets of a round at once (bounded): a helper pod takes seconds to
start and hold its fault, and a window must not spend itself injecting one target after the other. Records change
in order once the calls are done; the Recorder coalesces those changes into at most two writes a second. What must
not wait is written at once: the Pending records before any apply, Reverting before any revert begins; and a
recovery's outcome is flushed before recover_all returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from chaos_operator.analysis import held
from chaos_operator.analysis.held import Loss
from chaos_operator.engine import lifecycle
from chaos_operator.engine.lost_helpers import HelperTender
from chaos_operator.engine.recorder import Recorder
from chaos_operator.faults.base import Fault, FaultContext, FaultError
from chaos_operator.models.status import MAX_RECORDS, Injection, RecordState, TargetRef, clip

log = logging.getLogger(__name__)
RECOVER_TIMEOUT_S = 60.0  # per attempt: a helper's deletion, and a revert-only helper when one is needed
RETRY_FIRST_S, RETRY_MAX_S = 1.0, 30.0  # backoff between recovery attempts, doubling
PARALLEL = 16  # fault calls in flight at once
REVERTING_WRITE_S = 2.0  # the longest a revert waits for its Reverting record to be written

Outcome = dict[str, Any] | BaseException | None
RECORD_FIELDS = frozenset({"helper_pod", "message"})  # what a fault's apply/recover may report for its record


def record_fields(changes: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(helper pod, message) from what a fault returned; anything else is a bug in the fault."""
    changes = changes or {}
    unknown = set(changes) - RECORD_FIELDS
    if unknown:
        raise KeyError(f"a fault reported fields its record does not have: {sorted(unknown)}")
    helper_pod, message = changes.get("helper_pod"), changes.get("message")
    return (None if helper_pod is None else str(helper_pod)), (None if message is None else clip(str(message)))


class ChaosWindow:
    def __init__(self, recorder: Recorder, fault: Fault, ctx: FaultContext, stop: asyncio.Event,
                 poll_s: float, retry_s: float, on_whole: WholeNote | None = None) -> None:
        self.recorder = recorder
        self.on_whole = on_whole
        self.retry_s = retry_s  # how long a failing recovery is retried before its record is RecoveryFailed
        self.fault = fault
        self.ctx = ctx
        self.stop = stop
        self.poll_s = poll_s
        self.last_injection_mono: float | None = None
        self.first_round: tuple[int, int] | None = None  # (injected, targets) of the first round
        self.losses: list[Loss] = []  # targets whose fault ended before the window's end
        self.whole_at_mono: float | None = None  # first time the workload was whole after the last round
        self._watched: Injection | None = None  # the last record injected: its target tells when it is whole
        self._watch: asyncio.Task[None] | None = None
        # Faults carried by helper pods: a helper lost mid-window gets a revert-only helper (engine/lost_helpers.py).
        watch = fault.helpers()
        self._tender = (HelperTender(recorder, fault.kind, watch, ctx, poll_s, self._lost) if watch is not None
                        else None)

    def _lost(self, target: str) -> None:
        """A fault that no longer holds ends the window: the chaos figures must not go on without it."""
        self.losses.append(Loss(target, self.ctx.clock.monotonic(), self.recorder.timestamp()))
        self.stop.set()

    async def inject_round(self, targets: list[TargetRef]) -> int:
        """Write-ahead Pending records, then apply each; returns how many were injected."""
        room = MAX_RECORDS - len(self.recorder.status.injections)
        if room < len(targets):
            log.warning("record limit reached; no further injection rounds")
            return 0
        first = await self.recorder.add_injections(
            [Injection(target=t.name, uid=t.uid, state=RecordState.PENDING) for t in targets])
        indexes = list(range(first, first + len(targets)))
        outcomes = await self._call_all(indexes, self.fault.apply, stoppable=True, catch=FaultError)
        injected: list[str] = []
        for index in indexes:
            record = self.recorder.status.injections[index]
            outcome = outcomes.get(index)
            if outcome is None:
                continue  # not attempted, or cut short by a stop: stays Pending and recover_all cleans up
            if isinstance(outcome, BaseException):
                await self.recorder.mark_failed(index, str(outcome))
                await self.recorder.event("InjectionFailed", f"{record.target}: {outcome}", warning=True)
                continue
            helper_pod, message = record_fields(outcome)
            await self.recorder.mark_injected(index, helper_pod, message)
            injected.append(record.target)
        if self.first_round is None:
            self.first_round = (len(injected), len(targets))
        if injected:
            self.last_injection_mono = self.ctx.clock.monotonic()
            await self.recorder.event("Injected", f"{self.fault.kind} injected into {', '.join(injected)}")
            self._restart_watch()
            if self._tender is not None:
                self._tender.start()
        return len(injected)

    def adopt(self, first_round: tuple[int, int], last_injection_mono: float | None, losses: tuple[Loss, ...],
              whole_at_mono: float | None) -> None:
        """A window an earlier daemon opened (engine/resume.py): its injected records are watched from here on;
        ``losses``, faults that cannot be shown to have held meanwhile, end it at once. The workload is watched
        again unless the earlier daemon saw it whole (``whole_at_mono``)."""
        self.first_round, self.last_injection_mono = first_round, last_injection_mono
        self.losses.extend(losses)
        if losses:
            self.stop.set()
        self._restart_watch()
        if whole_at_mono is not None and self._watch is not None:
            self._watch.cancel()
            self.whole_at_mono = whole_at_mono
        if self._tender is not None:
            self._tender.start()

    async def recover_all(self) -> None:
        """Recover every record that may be live, each retried with backoff for ``retry_s``. Idempotent."""
        if self._tender is not None:
            await self._tender.stop()  # it must not handle a record while we recover it
        indexes = lifecycle.pending_recovery(self.recorder.status)
        try:  # before any revert begins; but a status write that fails or hangs never keeps a fault in place
            await self.ctx.clock.bounded(self.recorder.mark_reverting(indexes), REVERTING_WRITE_S)
        except Exception as exc:
            why = f"no answer within {REVERTING_WRITE_S:g}s" if isinstance(exc, TimeoutError) else str(exc)
            log.warning("%s: records not marked Reverting (%s); reverting anyway", self.ctx.experiment, why)
        outcomes = await self._call_all(indexes, self._recover_one, stoppable=False, catch=Exception)
        recovered: list[str] = []
        for index in indexes:
            record = self.recorder.status.injections[index]
            outcome = outcomes.get(index)
            if isinstance(outcome, BaseException):
                await self.recorder.mark_recovery_failed(index, f"recovery failed: {outcome}")
                await self.recorder.event("RecoveryFailed", f"{record.target}: {outcome}", warning=True)
                continue
            await self.recorder.mark_recovered(index, record_fields(outcome)[1])
            recovered.append(record.target)
        await self.recorder.flush()  # the outcome is on the server before anyone acts on the recovery
        if recovered:
            await self.recorder.event("Recovered", f"{self.fault.kind} recovered on {', '.join(recovered)}")

    async def _recover_one(self, ctx: FaultContext, record: Injection) -> dict[str, Any] | None:
        """One record's recovery: each attempt bounded, failures retried with a doubling backoff until
        ``retry_s`` has passed; then the last error, with the attempts it took."""
        started, delay, attempts = ctx.clock.monotonic(), RETRY_FIRST_S, 0
        while True:
            attempts += 1
            try:
                return await ctx.clock.bounded(self.fault.recover(ctx, record), RECOVER_TIMEOUT_S)
            except Exception as exc:
                elapsed = ctx.clock.monotonic() - started
                if elapsed + delay > self.retry_s:
                    why = str(exc) or repr(exc)
                    raise FaultError(f"{attempts} attempt(s) over {elapsed:.0f}s, the last: {why}") from exc
                log.warning("%s: recovering %s failed (attempt %d), again in %gs: %s", ctx.experiment,
                            record.target, attempts, delay, exc)
            await ctx.clock.sleep(delay)
            delay = min(2 * delay, RETRY_MAX_S)

    async def _call_all(self, indexes: list[int],
                        call: Callable[[FaultContext, Injection], Awaitable[dict[str, Any] | None]],
                        stoppable: bool, catch: type[Exception]) -> dict[int, Outcome]:
        """``call`` for each record, PARALLEL at a time: index -> its changes, or the ``catch`` exception it
        raised. With ``stoppable``, a stop cancels the calls still running (their indexes are left out). Any
        other exception cancels the rest and propagates."""
        limit = asyncio.Semaphore(PARALLEL)
        results: dict[int, Outcome] = {}

        async def one(index: int) -> None:
            async with limit:
                if stoppable and self.stop.is_set():
                    return
                try:
                    results[index] = await call(self.ctx, self.recorder.status.injections[index])
                except catch as exc:
                    results[index] = exc

        tasks = [asyncio.create_task(one(index)) for index in indexes]
        if not tasks:
            return results
        everything: asyncio.Future[Any] = asyncio.gather(*tasks)
        waiters: set[asyncio.Future[Any]] = {everything}
        stopper = asyncio.create_task(self.stop.wait()) if stoppable else None
        if stopper is not None:
            waiters.add(stopper)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [*tasks, *([stopper] if stopper is not None else [])]:
                task.cancel()  # a no-op for finished ones: a stop or an unexpected error cancels the rest
            await asyncio.gather(*tasks, return_exceptions=True)
            everything.cancel()
        for task in tasks:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error
        return results

    def _restart_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        self.whole_at_mono = None
        records = [r for r in self.recorder.status.injections if r.state == RecordState.INJECTED]
        self._watched = records[-1] if records else None
        self._watch = asyncio.create_task(self._watch_whole())

    async def _watch_whole(self) -> None:
        if self._watched is not None:
            self.whole_at_mono = await until_whole(self.fault, self.ctx, self._watched, self.poll_s, self.on_whole)

    async def close(self) -> WindowEnd:
        """End the window's tasks (the helper watch, the workload watch) and say what it saw: nothing of the
        window outlives the chaos phase."""
        if self._tender is not None:
            await self._tender.stop()
        if self._watch is not None and not self._watch.done():
            self._watch.cancel()
            try:
                await self._watch
            except asyncio.CancelledError:
                pass
        self._watch = None
        seen = held.observed(self.fault.instant, self._tender is not None, self.recorder.status.injections,
                             self.poll_s)
        return WindowEnd(self.last_injection_mono, self.whole_at_mono, self._watched, tuple(self.losses),
                         self.first_round or (0, 0), seen)


@dataclass(frozen=True)
class WindowEnd:
    """What a closed chaos window hands on to the recovery phase."""

    last_injection_mono: float | None
    whole_at_mono: float | None  # None: not yet whole when the window closed (or nothing was injected)
    watched: Injection | None  # the record whose target the recovery phase goes on watching until it is whole
    losses: tuple[Loss, ...] = ()  # targets whose fault ended before the window's end (helpers lost)
    first_round: tuple[int, int] = (0, 0)  # (injected, targets) of the first round
    observed: str | None = None  # what was seen of the fault (analysis/held.py observed)


WholeNote = Callable[[float], Awaitable[None]]  # told when the workload was found whole (Clock.monotonic())


async def until_whole(fault: Fault, ctx: FaultContext, record: Injection, poll_s: float,
                      noted: WholeNote | None = None) -> float:
    """Poll ``fault.verify`` until the workload is whole again; the Clock.monotonic() time it was (the recovery
    figure's workload half), told to ``noted`` first (status keeps it for a daemon that picks the run up)."""
    while True:
        try:
            if await fault.verify(ctx, record):
                at = ctx.clock.monotonic()
                if noted is not None:
                    await noted(at)
                return at
        except Exception as exc:
            log.warning("verify failed: %s", exc)
        await ctx.clock.sleep(poll_s)


async def result_or_cancel(task: asyncio.Task[float]) -> float | None:
    """A finished watch's time; a watch still polling is cancelled (not whole yet: None)."""
    if task.done():
        return None if task.cancelled() or task.exception() is not None else task.result()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    return None
