"""The only writer of a ChaosExperiment's .status and of its Events: each method writes one typed change, validated
whole (through the wire form the CRD accepts) and refused when it would move the phase anywhere but forward. Record
changes are coalesced (engine/coalesce.py; at most two writes a second); every other change is written at once and
carries them. Each write is kept under the status budget (engine/budget.py; docs/architecture.md, "Bounded writes").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from chaos_operator.engine import budget, conflict, lifecycle, mergepatch
from chaos_operator.engine.coalesce import Coalescer
from chaos_operator.engine.conditions import conditions
from chaos_operator.models.duration import Duration
from chaos_operator.models.errors import describe
from chaos_operator.models.status import (
    MAX_TARGETS,
    Check,
    Comparison,
    ExperimentStatus,
    Grade,
    Injection,
    LoadSpan,
    LoadSpans,
    Phase,
    PhaseResult,
    RecordState,
    TargetRef,
    Timeline,
    Verdict,
    clip,
)
from chaos_operator.models.timestamps import format_time
from chaos_operator.ports import Clock, ExperimentRef, KubeApi, StatusConflict

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CONFLICTS = 5  # re-reads of one write before giving up (each conflict means another writer made progress)
CALL_TIMEOUT_S = 30.0  # each status write or re-read, on the Clock: a hung API server fails the call, not the run
PhaseName = Literal["baseline", "chaos", "recovery"]
_FIELDS = frozenset(ExperimentStatus.model_fields)
# Told of every status write (ref, fault kind, old, new): the metrics adapter's hook. Must not raise.
StatusObserver = Callable[[ExperimentRef, str | None, ExperimentStatus, ExperimentStatus], None]


class UnreadableStatus(Exception):
    """A re-read (after a 409) found a status that fails validation: the run fails closed (engine/failclosed.py)
    rather than guess, or escape as a ValidationError that kopf would retry."""

    def __init__(self, raw: Mapping[str, Any], problem: str) -> None:
        super().__init__(f"the status could not be read ({problem})")
        self.raw, self.problem = raw, problem


class Recorder:
    def __init__(self, kube: KubeApi, clock: Clock, ref: ExperimentRef, status: ExperimentStatus, *,
                 kind: str | None = None, generation: int | None = None, resource_version: str | None = None,
                 clear: Mapping[str, Any] | None = None, observer: StatusObserver | None = None) -> None:
        self._kube, self._observer, self._clock, self.ref = kube, observer, clock, ref
        self.kind = kind  # the fault kind (a metrics label); None when the spec cannot be read
        # What this writer knows: the last status written or read, and record changes not yet written.
        self.status = status
        self._written = status  # the last status written or read: the base a conflict is rebased from
        self._dirty = False  # self.status holds record changes the server has not seen yet
        self._coalescer = Coalescer(clock, self._flush_waiting)
        self._generation = generation
        # Each write carries the resourceVersion its status was computed from (None: unconditional).
        self.resource_version = resource_version
        # The unreadable status on the server (wire form) that the first write replaces whole; None: none.
        self._clear = clear
        # Once a re-read found the status unreadable, no later write guesses over it (a caller that swallowed
        # the first UnreadableStatus meets it again): the run fails closed (engine/failclosed.py).
        self._unreadable: UnreadableStatus | None = None
        # Several tasks write (chaos rounds, halt and orphan watchers): each read-modify-write is atomic.
        self._lock = asyncio.Lock()

    @property
    def generation(self) -> int | None:
        return self._generation

    def timestamp(self) -> str:
        return format_time(self._clock.now())

    async def begin(self, message: str) -> None:
        """A run from the start: the figures of an earlier attempt (restart in Baseline) are dropped."""
        await self._change(started_at=self.timestamp(), reason="Started", message=message, injections=[],
                           targets=[], summarised=None, load_spans=None)

    async def select_targets(self, targets: list[TargetRef], seed: int, ready_before: int) -> None:
        await self._change(targets=targets, seed=seed, ready_before=ready_before)

    async def add_targets(self, targets: list[TargetRef]) -> None:
        await self._change(targets=[*self.status.targets, *targets][:MAX_TARGETS])

    async def queued(self, message: str) -> None:  # still Pending: waiting for a slot (engine/slots.py)
        await self._change(reason="Queued", message=message)

    async def enter(self, phase: Phase, message: str, span: LoadSpan | None = None) -> None:
        name: PhaseName = "chaos" if phase == Phase.CHAOS else "recovery" if phase == Phase.RECOVERY else "baseline"
        await self._change(phase=phase, reason="Running", message=message, **self._spans(name, span))

    async def note_span(self, name: PhaseName, **instants: float) -> None:
        """Load workers: instants of the phase under way (its split, the workload whole), merged into its span."""
        async with self._lock:
            spans = self.status.load_spans or LoadSpans()
            if (span := getattr(spans, name)) is not None:
                await self._write({"load_spans": spans.model_copy(update={name: span.model_copy(update=instants)})})

    async def record_phase(self, name: PhaseName, result: PhaseResult, span: LoadSpan | None = None) -> None:
        await self._change(phases=self.status.phases.model_copy(update={name: result}), **self._spans(name, span))

    async def record_recovery(self, result: PhaseResult, recovery_s: float | None,
                              span: LoadSpan | None = None) -> None:
        await self._change(phases=self.status.phases.model_copy(update={"recovery": result}),
                           recovery_time=None if recovery_s is None else Duration(recovery_s),
                           **self._spans("recovery", span))

    def _spans(self, name: PhaseName, span: LoadSpan | None) -> dict[str, object]:
        spans = self.status.load_spans or LoadSpans()
        if span is not None and (old := getattr(spans, name)) is not None:  # an instant noted meanwhile is kept
            span = old.model_copy(update=span.model_dump(exclude_none=True))
        return {} if span is None else {"load_spans": spans.model_copy(update={name: span})}

    async def record_halt(self, breach: Check) -> None:
        """Write-ahead of the early end of the chaos window: a restart still knows it halted."""
        await self._change(checks=[*self.status.checks, breach])

    async def finish(self, phase: Phase, verdict: Verdict | None, reason: str, message: str, *,
                     checks: list[Check] | None = None, score: int | None = None,
                     grade: Grade | None = None, timeline: Timeline | None = None,
                     analysis: list[Comparison] | None = None) -> None:
        async with self._lock:
            changes: dict[str, object] = dict(phase=phase, verdict=verdict, reason=reason, message=clip(message),
                                              finished_at=self.timestamp())
            if checks is not None:
                changes.update(checks=checks, score=score, grade=grade)
            if analysis:
                changes["analysis"] = analysis
            if timeline is not None:  # written once, with the end: the status stays small while running
                changes["timeline"] = timeline
            await self._write(changes)

    async def add_injections(self, records: list[Injection]) -> int:  # the index of the first one
        async with self._lock:
            await self._write({"injections": [*self.status.injections, *records]})
            # Counted after the write: records another writer added meanwhile come first.
            return len(self.status.injections) - len(records)

    async def mark_injected(self, index: int, helper_pod: str | None, message: str | None) -> None:
        await self._set_record(index, state=RecordState.INJECTED, injected_at=self.timestamp(),
                               helper_pod=helper_pod, message=message)

    async def mark_recovered(self, index: int, message: str | None) -> None:
        await self._set_record(index, state=RecordState.RECOVERED, recovered_at=self.timestamp(),
                               message=message)

    async def mark_failed(self, index: int, message: str) -> None:
        await self._set_record(index, state=RecordState.FAILED, message=clip(message))

    async def mark_recovery_failed(self, index: int, message: str) -> None:
        await self._set_record(index, state=RecordState.RECOVERY_FAILED, message=clip(message))

    async def mark_reverting(self, indexes: list[int]) -> None:
        """Injected records about to be reverted, in one write (before any revert begins)."""
        async with self._lock:
            records = list(self.status.injections)
            changed, now = False, self.timestamp()
            for index in indexes:
                if records[index].state == RecordState.INJECTED:  # the end of the time its fault held
                    records[index] = records[index].model_copy(update={"state": RecordState.REVERTING,
                                                                       "held_until": now})
                    changed = True
            if changed:
                await self._write({"injections": records})

    async def event(self, reason: str, message: str, warning: bool = False) -> None:
        try:
            await self._bounded(self._kube.create_event(self.ref, "Warning" if warning else "Normal", reason,
                                                        message, self._clock.now()), "event")
        except Exception as exc:  # an Event is advisory; losing one must not stop the experiment
            log.warning("could not post event %s: %s", reason, exc)

    async def _set_record(self, index: int, state: RecordState, *, injected_at: str | None = None,
                          recovered_at: str | None = None, helper_pod: str | None = None,
                          message: str | None = None) -> None:
        """One record's change, coalesced (written now, or by the flush due): never a later state than ours."""
        async with self._lock:
            if self._unreadable is not None:
                raise UnreadableStatus(self._unreadable.raw, self._unreadable.problem)
            record = self.status.injections[index]
            update: dict[str, object] = {"state": state}
            # A None keeps what the record already says.
            for key, value in (("injected_at", injected_at), ("recovered_at", recovered_at),
                               ("helper_pod", helper_pod), ("message", message)):
                if value is not None:
                    update[key] = value
            records = list(self.status.injections)
            records[index] = record.model_copy(update=update)
            local = self.status.model_copy(update={"injections": records})
            self.status = local.model_copy(update={"conditions": conditions(local, self.timestamp(),
                                                                            self._generation)})
            self._dirty = True
            if self._coalescer.wait_s() <= 0:
                await self._write({})
            else:
                self._coalescer.schedule()

    async def flush(self) -> None:
        """Write waiting record changes now: a recovery's outcome is on the server when recover_all returns."""
        async with self._lock:
            if self._dirty:
                await self._write({})

    async def _flush_waiting(self) -> None:
        async with self._lock:
            if not self._dirty:
                return
            try:
                await self._write({})
            except Exception as exc:  # nothing is lost: the changes stay, and the next write carries them
                log.warning("%s/%s: record changes not written yet: %s", self.ref.namespace, self.ref.name, exc)

    async def _change(self, **changes: object) -> None:
        async with self._lock:
            await self._write(changes)

    async def _write(self, changes: dict[str, object]) -> ExperimentStatus:
        unknown = set(changes) - _FIELDS
        if unknown:
            raise KeyError(f"not a status field: {sorted(unknown)}")
        phase = changes.get("phase")
        if phase is not None and phase != self.status.phase and not lifecycle.can_move(self.status.phase,
                                                                                         Phase(str(phase))):
            raise ValueError(f"illegal phase change {self.status.phase} -> {phase}")
        if self._unreadable is not None:
            raise UnreadableStatus(self._unreadable.raw, self._unreadable.problem)
        base = self._written  # what the server was last seen to hold: record changes waiting since count as mine
        new = self._finished_draft(self.status.model_copy(update=changes))
        for _ in range(MAX_CONFLICTS):
            body = new.to_api()
            if self._clear is not None:
                body = mergepatch.replacing(self._clear, body)
            try:
                version = await self._bounded(self._kube.patch_experiment_status(
                    self.ref.namespace, self.ref.name, body, resource_version=self.resource_version), "write")
            except StatusConflict:
                # Someone wrote since: re-read, re-apply only what this write changed, never backwards.
                theirs = await self._reread()
                if theirs is not None:
                    new = self._finished_draft(conflict.rebase(base, new, theirs))
                    base = theirs
                continue
            self.resource_version = version
            self._clear = None
            old, self.status, self._written, self._dirty = self._written, new, new, False
            self._coalescer.wrote()
            if self._observer is not None:
                self._observer(self.ref, self.kind, old, new)
            return new
        raise StatusConflict(f"status of {self.ref.namespace}/{self.ref.name} kept changing under the operator")

    async def _bounded(self, call: Awaitable[T], what: str) -> T:
        try:
            return await self._clock.bounded(call, CALL_TIMEOUT_S)
        except TimeoutError:
            raise TimeoutError(f"status {what} of {self.ref.namespace}/{self.ref.name} took over "
                               f"{CALL_TIMEOUT_S:g}s") from None

    def _finished_draft(self, draft: ExperimentStatus) -> ExperimentStatus:
        draft = budget.fit(draft)
        draft = draft.model_copy(update={
            "conditions": conditions(draft, self.timestamp(), self._generation),
            "observed_generation": self._generation,
        })
        # Round-trip through the wire form so every write is a status the CRD schema accepts.
        return ExperimentStatus.model_validate(draft.to_api())

    async def _reread(self) -> ExperimentStatus | None:
        """The status on the server now; None while it is still the unreadable one this recorder replaces."""
        obj = await self._bounded(self._kube.get_experiment(self.ref.namespace, self.ref.name), "re-read")
        if obj is None or (obj.get("metadata") or {}).get("uid") != self.ref.uid:
            raise StatusConflict(f"{self.ref.namespace}/{self.ref.name} is gone or was replaced")
        self.resource_version = str(obj["metadata"]["resourceVersion"])
        raw = dict(obj.get("status") or {})
        try:
            return ExperimentStatus.model_validate(raw)
        except ValidationError as exc:
            if self._clear is None:  # turned unreadable under a running writer (or before its first write)
                self._unreadable = UnreadableStatus(raw, describe(exc, prefix="status"))
                raise self._unreadable from None
            self._clear = raw  # what the server holds now is what the write must replace
            return None
