"""The only writer of a ChaosExperiment's .status and of its Events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Literal

from chaos_operator.engine import lifecycle
from chaos_operator.engine.ports import Clock, ExperimentRef, KubeApi
from chaos_operator.models.status import Condition, ExperimentStatus, Injection

log = logging.getLogger(__name__)

RUNNING_PHASES = ("Baseline", "Chaos", "Recovery", "Analyzing")
# Told of every status write (ref, fault kind, old, new): the metrics adapter's hook. Must not raise.
StatusObserver = Callable[[ExperimentRef, str | None, ExperimentStatus, ExperimentStatus], None]


class Recorder:
    def __init__(self, kube: KubeApi, clock: Clock, ref: ExperimentRef, status: ExperimentStatus,
                 generation: int | None = None, observer: StatusObserver | None = None) -> None:
        self._kube = kube
        self._observer = observer
        self.kind: str | None = None  # the fault kind, once the spec is known (a metrics label)
        self._clock = clock
        self.ref = ref
        self.status = status
        self._generation = generation
        # Several tasks write (chaos rounds, halt and orphan watchers): each read-modify-write is atomic.
        self._lock = asyncio.Lock()

    def timestamp(self) -> str:
        return self._clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    async def update(self, **changes: Any) -> ExperimentStatus:
        """Apply changes (python values, snake_case names), validate the whole status, write it."""
        async with self._lock:
            return await self._write(changes)

    async def _write(self, changes: dict[str, Any]) -> ExperimentStatus:
        if "phase" in changes and changes["phase"] != self.status.phase:
            if not lifecycle.can_move(self.status.phase, changes["phase"]):
                raise ValueError(f"illegal phase change {self.status.phase} -> {changes['phase']}")
        draft = self.status.model_copy(update=changes)
        draft = draft.model_copy(update={
            "conditions": self._conditions(draft),
            "observed_generation": self._generation,
        })
        # Round-trip through the wire form so every write is a status the CRD schema accepts.
        new = ExperimentStatus.model_validate(draft.to_api())
        await self._kube.patch_experiment_status(self.ref.namespace, self.ref.name, new.to_api())
        old, self.status = self.status, new
        if self._observer is not None:
            self._observer(self.ref, self.kind, old, new)
        return new

    async def set_injection(self, index: int, **changes: Any) -> None:
        async with self._lock:
            records = list(self.status.injections)
            records[index] = records[index].model_copy(update=changes)
            await self._write({"injections": records})

    async def add_injections(self, records: list[Injection]) -> int:
        """Append records; returns the index of the first one."""
        async with self._lock:
            first = len(self.status.injections)
            await self._write({"injections": [*self.status.injections, *records]})
            return first

    async def event(self, reason: str, message: str, warning: bool = False) -> None:
        try:
            await self._kube.create_event(self.ref, "Warning" if warning else "Normal", reason, message,
                                          self._clock.now())
        except Exception as exc:  # an Event is advisory; losing one must not stop the experiment
            log.warning("could not post event %s: %s", reason, exc)

    def _conditions(self, status: ExperimentStatus) -> list[Condition]:
        now = self.timestamp()
        running = status.phase in RUNNING_PHASES
        active = any(rec.state == "Injected" for rec in status.injections)
        reason = status.reason or ("Running" if running else status.phase)
        wanted: dict[str, tuple[Literal["True", "False"], str, str]] = {
            "Progressing": ("True" if running else "False", reason if not running else status.phase,
                            status.message or f"experiment is {status.phase}"),
            "FaultActive": ("True" if active else "False", "Injected" if active else "NoFaultActive",
                            "a fault is in effect" if active else "no fault is in effect"),
        }
        old = {c.type: c for c in status.conditions}
        result = []
        for type_, (state, why, message) in wanted.items():
            prev = old.get(type_)
            changed = prev is None or prev.status != state
            result.append(Condition(
                type=type_, status=state, reason=why, message=message[:1024],
                last_transition_time=now if changed or prev is None else prev.last_transition_time,
                observed_generation=self._generation,
            ))
        return result
