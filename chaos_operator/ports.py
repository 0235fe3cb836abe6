"""The ports: the Kubernetes API, the clock, an experiment's identity (shared by the engine and the faults),
and the load driver (the engine's).

Adapters (chaos_operator/adapters) implement them; the engine and the faults import only these protocols, so
neither depends on a client library nor on the other (faults/base.py used to import engine.ports: a cycle).
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.models.status import LoadSpan, PhaseResult

T = TypeVar("T")


@dataclass(frozen=True)
class ExperimentRef:
    namespace: str
    name: str
    uid: str


class StatusConflict(Exception):
    """The object changed since the resourceVersion a status write was computed from (409 Conflict)."""


class ApiRefused(Exception):
    """The API server refused a call: its HTTP code, reason and message, without the client's headers and raw
    body (those went into status messages and Events, where only the server's own sentence belongs)."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"({code}) {reason}: {message}" if message else f"({code}) {reason}")
        self.code, self.reason, self.message = code, reason, message


class KubeApi(Protocol):
    async def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]: ...


    async def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The pod, or None when there is none of that name."""
        ...

    async def create_pod(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """The created pod, or None when a pod of that name already exists (409 AlreadyExists)."""
        ...

    async def delete_pod_by_name(self, namespace: str, name: str, grace_period_seconds: int | None) -> bool:
        """Delete whatever pod has this name (our own helper pods); False when there is none.
        grace_period_seconds None: the pod's own terminationGracePeriodSeconds."""
        ...

    async def delete_pod(self, namespace: str, name: str, uid: str, grace_period_seconds: int) -> bool:
        """Delete only the pod with this uid; False when it is already gone or was replaced."""
        ...

    async def get_service(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def get_namespace(self, name: str) -> dict[str, Any] | None: ...

    async def get_experiment(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def patch_experiment_status(self, namespace: str, name: str, status: Mapping[str, Any],
                                      resource_version: str | None = None) -> str | None:
        """Merge-patch .status; with ``resource_version`` only while the object still has it (else raises
        StatusConflict). Returns the object's new resourceVersion."""
        ...

    async def create_event(
        self, ref: ExperimentRef, type_: str, reason: str, message: str, time: datetime.datetime
    ) -> None: ...


class Clock(Protocol):
    """Every duration the engine measures or waits comes from here, so tests can run it on virtual time."""

    def now(self) -> datetime.datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait_for(self, event: asyncio.Event, seconds: float) -> bool:
        """Wait until ``event`` is set or ``seconds`` pass; True when the event was set."""
        ...

    async def bounded(self, work: Awaitable[T], seconds: float) -> T:
        """Await ``work`` for at most ``seconds``: then it is cancelled and TimeoutError raised."""
        ...


@dataclass(frozen=True)
class LoadResult:
    """One phase of load: the summary for status and the per-second samples for recovery analysis."""

    result: PhaseResult
    started_mono: float  # Clock.monotonic() when the phase's first request was due (the adapter converts)
    samples: Sequence[SecondSample] = field(default_factory=tuple)  # offsets from started_mono
    split_offset_s: float | None = None  # when ``split`` was set, from started_mono: the figures start there
    span: LoadSpan | None = None  # load workers: the phase's instants, what a resumed run cuts again


class LoadDriver(Protocol):
    async def run_phase(self, duration_s: float, stop: Any, split: Any = None) -> LoadResult:
        """Drive the experiment's load for duration_s or until ``stop`` (an asyncio.Event) is set. When ``split``
        (an asyncio.Event) is set during the phase, the result covers only the requests intended from then on,
        and result.ramp counts the ones before."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class ResumableLoad(LoadDriver, Protocol):
    """Load whose figures outlive the operator (load workers): a phase is placed by its instants (unix seconds),
    so a daemon that picks the run up cuts the same seconds again (engine/resume.py)."""

    def phase_start(self) -> float:
        """When a phase begun now starts: now, and never before the load's own start."""
        ...

    async def run_phase_from(self, begun: float, duration_s: float, stop: Any, split: Any = None) -> LoadResult:
        """``run_phase`` for a phase that began at ``begun`` (perhaps under an earlier daemon): what is left of it.
        ``split`` may also be the instant (unix seconds) it was set, when an earlier daemon saw it."""
        ...

    async def recut(self, span: LoadSpan) -> LoadResult:
        """A phase that has ended, cut again from the load's data."""
        ...

    async def detach(self) -> None:
        """Let go without ending the load: the daemon stops and the next one picks the run up."""
        ...
