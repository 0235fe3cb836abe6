"""What a kubelet of the sandbox's node works with: the pod's `Slot`, the node's `PodConfig`, and `NodeSide`.

The kubelets (`agent_kubelet.py`, `demo_kubelet.py`) see the node only through `NodeSide`, the narrow interface
`node.py`'s `Node` implements: its fixed `PodConfig`, and the few things a kubelet may ask of the node (write a
pod's status, verify a route, annotate a pod, release and forget a pod). So the kubelets never import `node.py`.
"""

from __future__ import annotations

import asyncio
import pathlib
from dataclasses import dataclass, field
from typing import Protocol

from chaos_sandbox.emulator.store import now_rfc3339
from chaos_sandbox.node.agentpods import AgentProcess, Plan
from chaos_sandbox.node.cgroups import RunCgroups
from chaos_sandbox.node.commandpods import CommandProcess
from chaos_sandbox.node.podnet import PodNet, RunNet
from chaos_sandbox.node.podprocess import PodProcess
from chaos_sandbox.node.podstatus import Container, Terminated


@dataclass(eq=False)
class Slot:
    """One pod the node runs: what the kubelet made for it, and where its life stands."""

    namespace: str
    name: str
    uid: str
    container: Container
    start_time: str = field(default_factory=now_rfc3339)
    task: asyncio.Task[None] | None = None
    net: PodNet | None = None
    proc: PodProcess | AgentProcess | CommandProcess | None = None
    cgroup: pathlib.Path | None = None
    plan: Plan | None = None  # operator-image pods
    started_at: str = ""
    restarts: int = 0  # the container's restartCount (restartPolicy Always)
    deleting: bool = False
    deadline_exceeded: bool = False
    finished: bool = False


@dataclass(frozen=True)
class PodConfig:
    """The node's settings every pod process gets; `cgroups` and `net` are None without root."""

    token: str
    start_delay: float
    max_seconds: float
    log_dir: pathlib.Path | None
    cgroups: RunCgroups | None
    net: RunNet | None
    cpus: frozenset[int] | None  # pods are bound to these CPUs (through cgexec)

    def log_path(self, slot: Slot) -> pathlib.Path | None:
        return self.log_dir / f"{slot.namespace}_{slot.name}.log" if self.log_dir else None


class NodeSide(Protocol):
    """What a kubelet may use of its node."""

    @property
    def config(self) -> PodConfig: ...

    def status(self, slot: Slot, phase: str, ready: bool, *, ip: str | None = None, reason: str | None = None,
               message: str | None = None, terminated: Terminated | None = None,
               still_running: bool = False) -> None:
        """Write the pod's status as the kubelet sees it."""

    def annotate(self, slot: Slot, annotations: dict[str, str]) -> None:
        """Merge these annotations into the pod's metadata."""

    def add_route(self, slot: Slot) -> None:
        """The slot's pod address is verified to go through its veth: the node may dial it."""

    def veths(self) -> set[str]:
        """The node's own veths, for `check_route`."""

    async def release(self, slot: Slot) -> None:
        """Free what the pod holds on the node (proxy connections, cgroup, network). Idempotent."""

    def forget(self, slot: Slot) -> None:
        """The pod ended by itself (not deleted): the node no longer runs it."""
