"""The one protocol every fault implements (design §3, §5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chaos_operator.engine.ports import Clock, KubeApi
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import Injection


class FaultError(Exception):
    """An injection or recovery that did not happen; the message goes into the injection record."""


@dataclass(frozen=True)
class FaultContext:
    kube: KubeApi
    clock: Clock
    namespace: str
    experiment: str
    spec: ExperimentSpec
    label_selector: str  # server-side form of spec.target.selector
    ready_before: int  # Ready pods matching the selector before anything was touched


class Fault(Protocol):
    kind: str
    # True when the fault is a one-off event (a kill): recovery is timed from the last injection,
    # not from the end of the chaos window.
    instant: bool

    async def apply(self, ctx: FaultContext, record: Injection) -> dict[str, Any]:
        """Inject into one target; returns changes for its record (e.g. helperPod). Raises FaultError."""
        ...

    async def verify(self, ctx: FaultContext, record: Injection) -> bool:
        """True once the target is whole again after recovery (PodKill: the workload replaced it)."""
        ...

    async def recover(self, ctx: FaultContext, record: Injection) -> None:
        """Undo the injection. Idempotent; a target that vanished counts as recovered."""
        ...

    def repeat_interval(self, ctx: FaultContext) -> float | None:
        """Seconds between injection rounds inside the chaos window, or None for one round."""
        ...
