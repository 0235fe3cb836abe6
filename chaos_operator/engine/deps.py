"""What a runner is given: its ports and settings (Deps) and what the outside world can ask of it (Control)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from chaos_operator.engine import gating
from chaos_operator.engine.owners import Owners
from chaos_operator.engine.recorder import StatusObserver
from chaos_operator.engine.slots import Slots
from chaos_operator.faults.base import DEFAULT_IMAGE, Fault
from chaos_operator.faults.registry import fault_for
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.ports import Clock, ExperimentRef, KubeApi, LoadDriver, ResumableLoad
from chaos_operator.sli.source import MetricsSource


class LoadTargetNotFound(Exception):
    """The Service named in spec.load does not exist or has no address."""

    reason = "LoadTargetNotFound"


class LoadTargetRefused(LoadTargetNotFound):
    """The Service named in spec.load exists but is not sent load (an ExternalName points outside the cluster,
    anywhere its creator chose: the load would be a request forgery on their behalf)."""

    reason = "LoadTargetRefused"


class LoadWorkersFailed(LoadTargetNotFound):
    """The load workers' Job could not be started: its pods were not all Ready in time, or none took the start."""

    reason = "LoadWorkersFailed"


# The experiment's spec and identity -> its load (the workers' Job is owned by the experiment, in its namespace).
LoadFactory = Callable[[ExperimentSpec, ExperimentRef], Awaitable[LoadDriver]]
# Ends what a previous daemon's load left running for the experiment (the workers' Job), on a resume that sends
# no more load.
LoadDiscard = Callable[[ExperimentSpec, ExperimentRef], Awaitable[None]]
LoadAdopt = Callable[[ExperimentSpec, ExperimentRef], Awaitable[ResumableLoad | None]]


@dataclass(frozen=True)
class Deps:
    kube: KubeApi
    clock: Clock
    open_load: LoadFactory
    operator_namespace: str
    allowed_namespaces: frozenset[str] | None = None
    protected_namespaces: frozenset[str] = frozenset()  # on top of the built-in ones
    operator_pods: frozenset[str] = frozenset()
    poll_s: float = 1.0
    recover_retry_s: float = 120.0  # a failing recovery is retried (with backoff) this long before RecoveryFailed
    open_metrics: Callable[[str], MetricsSource] | None = None  # Prometheus URL -> source
    halt_poll_s: float = 2.0
    image: str = DEFAULT_IMAGE  # the operator's image: helper and stress pods run the agent from it
    fault_for: Callable[[str], Fault] = fault_for  # kind -> its Fault; tests drive the runner with their own
    gates: gating.Gates = gating.Gates()  # the kill switch and the namespace opt-in
    observer: StatusObserver | None = None  # told of every status write (metrics)
    slots: Slots = field(default_factory=Slots)  # the cap on experiments running at once (none by default)
    owners: Owners = field(default_factory=Owners)  # experiments with a run at work (deletion waits for it)
    max_helpers_per_node: int | None = None  # helper and stress pods of this operator on one node
    discard_load: LoadDiscard | None = None  # load workers: a resume that ends the run deletes their Job
    adopt_load: LoadAdopt | None = None  # load workers: an earlier daemon's, rejoined to pick its run up


@dataclass(frozen=True)
class Control:
    """What the outside world can ask of a running experiment."""

    abort_requested: Callable[[], bool]  # spec.abort became true
    stopping: Callable[[], bool]  # the daemon is being stopped: operator exit or resource deletion
