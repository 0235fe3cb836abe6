"""The protocols through which the engine sees every fault (docs/architecture.md), and the labels of helper pods.

The engine imports this module and the registry only: no concrete fault class, no pod assembly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chaos_operator.models import GROUP
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import Injection
from chaos_operator.ports import Clock, KubeApi

# The operator's own image runs the agent in helper pods; the deployment sets OPERATOR_IMAGE to its exact tag.
DEFAULT_IMAGE = "chaos-operator:latest"

# Labels of every helper pod (the startup sweep finds them by these). Helpers live in the operator's namespace
# and an owner reference cannot name an object in another namespace, so these labels (and the annotation with the
# experiment's full name, which may be longer than a label value) say whose a helper is.
MANAGED_BY = "app.kubernetes.io/managed-by"
OPERATOR = "chaos-operator"
EXPERIMENT_LABEL = f"{GROUP}/experiment"
EXPERIMENT_NS_LABEL = f"{GROUP}/experiment-namespace"
EXPERIMENT_UID_LABEL = f"{GROUP}/experiment-uid"
EXPERIMENT_ANNOTATION = f"{GROUP}/experiment"
TARGET_LABEL = f"{GROUP}/target-uid"
ROLE_LABEL = f"{GROUP}/role"
HELPER_SELECTOR = f"{MANAGED_BY}={OPERATOR}"


class FaultError(Exception):
    """An injection or recovery that did not happen; the message goes into the injection record."""


@dataclass(frozen=True)
class FaultContext:
    kube: KubeApi
    clock: Clock
    namespace: str  # the experiment's and its targets'
    experiment: str
    spec: ExperimentSpec
    label_selector: str  # server-side form of spec.target.selector
    ready_before: int  # Ready pods matching the selector before anything was touched
    operator_namespace: str  # where helper pods are created: never a tenant's namespace
    experiment_uid: str = ""  # a label of helper pods, and part of their deterministic names
    image: str = DEFAULT_IMAGE  # the image helper pods run the agent from
    max_helpers_per_node: int | None = None  # this operator's helper and stress pods on one node (None: no cap)


class HelperWatch(Protocol):
    """What a fault carried by helper pods offers the engine's lost-helper watch (engine/lost_helpers.py)."""

    async def helper_lost(self, ctx: FaultContext, record: Injection) -> tuple[str, bool] | None:
        """None while the helper of an Injected record holds the fault; else (why, clean), clean when its report
        says nothing of ours is left."""
        ...

    async def recover(self, ctx: FaultContext, record: Injection) -> dict[str, Any] | None: ...

    async def revert_lost(self, ctx: FaultContext, record: Injection) -> str:
        """Undo what a lost helper may have left; returns what happened; raises FaultError when it could not."""
        ...


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

    def helpers(self) -> HelperWatch | None:
        """The lost-helper watch of a fault carried by helper pods; None for a fault without helpers."""
        ...
