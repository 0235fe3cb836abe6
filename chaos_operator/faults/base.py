"""The one protocol every fault implements (design §3, §5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chaos_operator.ports import Clock, KubeApi
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import Injection

# The operator's own image runs the agent in helper pods; the deployment sets OPERATOR_IMAGE to its exact tag.
DEFAULT_IMAGE = "chaos-operator:latest"


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
    experiment_uid: str = ""  # owner reference of helper pods, and part of their deterministic names
    image: str = DEFAULT_IMAGE  # the image helper pods run the agent from


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

    async def recover(self, ctx: FaultContext, record: Injection) -> dict[str, Any] | None:
        """Undo the injection; returns changes for its record (e.g. a message) or None. Idempotent; a target
        that vanished counts as recovered. Raises FaultError when the fault could not be undone."""
        ...

    def repeat_interval(self, ctx: FaultContext) -> float | None:
        """Seconds between injection rounds inside the chaos window, or None for one round."""
        ...
