"""`FakeKube`: the one in-memory `KubeApi` (`ports.py`) of the unit tests, for faults and for the runner.

Pods and experiments in dicts, a kubelet's few reactions, and every status write and Event kept in order with the
virtual time of its `FakeClock` (tests/support/clock.py). When a test adds a `KubeApi` method, it goes here."""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from chaos_operator.models.status import ExperimentStatus
from chaos_operator.ports import ExperimentRef
from tests.support.clock import FakeClock, SteppingClock

NS = "shop"
OPS = "chaos-system"  # the operator's namespace: helper pods live there
OPS = "chaos-system"  # the operator's namespace: helper pods live there
UID = "0d5e8f3a-91c2-4b7e-8a61-5f2c9d7e3b10"
Pod = dict[str, Any]


class FakeKube:
    """Pods and experiments in memory. `on_create(pod)` may return a status for a new pod (a kubelet starting it);
    with `graceful`, a deletion first shows the agent's final report, as a SIGTERMed helper would. `pods=N` starts
    with N Running, Ready targets `checkout-0`… labelled app=checkout; `fail_listing` makes listing pods raise it."""

    def __init__(self, clock: FakeClock | None = None, pods: int = 0) -> None:
        self.clock = clock if clock is not None else FakeClock()
        self.pods: dict[tuple[str, str], Pod] = {}
        self.experiments: dict[tuple[str, str], dict[str, Any]] = {}
        self.on_create: Callable[[Pod], dict[str, Any] | None] = lambda pod: None
        self.graceful: dict[str, Any] | None = None
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.fail_listing: Exception | None = None
        # Awaited before each status write is kept: a test makes writes hang, fail or conflict here.
        self.before_write: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes: list[tuple[float, dict[str, Any]]] = []
        self.events: list[tuple[float, str]] = []
        for i in range(pods):
            target = target_pod(f"checkout-{i}")
            self.pods[(NS, target["metadata"]["name"])] = target

    def add_pod(self, name: str, uid: str = UID, node: str | None = "n1", namespace: str = NS, **meta: Any) -> Pod:
        pod = {"metadata": {"name": name, "namespace": namespace, "uid": uid, **meta}, "spec": {"nodeName": node}}
        self.pods[(namespace, name)] = pod
        return pod

    async def get_pod(self, namespace: str, name: str) -> Pod | None:
        pod = self.pods.get((namespace, name))
        if pod is not None and pod["metadata"].get("deletionTimestamp"):
            pod["_gets"] = pod.get("_gets", 0) + 1
            if pod["_gets"] > 2:
                del self.pods[(namespace, name)]
                return None
        return copy.deepcopy(pod)

    async def create_pod(self, namespace: str, body: Mapping[str, Any]) -> Pod | None:
        name = body["metadata"]["name"]
        if (namespace, name) in self.pods:
            return None
        pod = copy.deepcopy(dict(body))
        pod["metadata"]["uid"] = f"pod-{len(self.created)}"
        status = self.on_create(pod)
        if status is not None:
            pod["status"] = status
        self.pods[(namespace, name)] = pod
        self.created.append(name)
        return copy.deepcopy(pod)

    async def delete_pod_by_name(self, namespace: str, name: str, grace_period_seconds: int | None) -> bool:
        pod = self.pods.get((namespace, name))
        if pod is None:
            return False
        self.deleted.append(name)
        if self.graceful is not None and "terminated" not in json.dumps(pod.get("status")):
            pod["metadata"]["deletionTimestamp"] = "now"
            pod["status"] = terminated(self.graceful)
        else:
            del self.pods[(namespace, name)]
        return True

    async def list_pods(self, namespace: str, label_selector: str) -> list[Pod]:
        if self.fail_listing is not None:
            raise self.fail_listing
        wanted = dict(part.split("=") for part in label_selector.split(","))  # equality terms only
        return [copy.deepcopy(p) for (ns, _), p in self.pods.items()
                if ns == namespace and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]

    async def get_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.services.get((namespace, name)))

    async def get_experiment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.experiments.get((namespace, name)))

    async def patch_experiment_status(self, namespace: str, name: str, status: Mapping[str, Any],
                                      resource_version: str | None = None) -> str | None:
        if self.before_write is not None:
            await self.before_write(status)
        self.writes.append((self.clock.t, dict(status)))
        return str(len(self.writes))

    async def create_event(self, ref: ExperimentRef, type_: str, reason: str, message: str,
                           time: datetime.datetime) -> None:
        self.events.append((self.clock.t, reason))

    @property
    def status(self) -> ExperimentStatus:
        """The last status written."""
        return ExperimentStatus.model_validate(self.writes[-1][1])

    def phases(self) -> list[str]:
        """Phases in the order they were written (repeats dropped)."""
        seen: list[str] = []
        for _, status in self.writes:
            if not seen or seen[-1] != status["phase"]:
                seen.append(status["phase"])
        return seen

    def reasons(self) -> list[str]:
        return [reason for _, reason in self.events]


def target_pod(name: str, labels: Mapping[str, str] | None = None) -> Pod:
    """A Running, Ready target in NS on node-a."""
    return {"metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}",
                         "labels": dict(labels or {"app": "checkout"})},
            "spec": {"nodeName": "node-a"},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]}}


def fast_clock(step: float = 1.0) -> FakeClock:
    """Monotonic time that moves `step` on every reading (bounded waits end after a few real polls); a fixed now."""
    return SteppingClock(start=datetime.datetime(2025, 3, 4, tzinfo=datetime.UTC), step=step)


def running(ready: bool = True) -> dict[str, Any]:
    """A running helper; `ready` when its readiness probe passes (its agent has applied the fault)."""
    flag = "True" if ready else "False"
    return {"phase": "Running", "conditions": [{"type": "Ready", "status": flag}],
            "containerStatuses": [{"name": "agent", "ready": ready, "state": {"running": {}}}]}


def terminated(report: dict[str, Any] | None, code: int = 0) -> dict[str, Any]:
    term: dict[str, Any] = {"exitCode": code, **({"message": json.dumps(report)} if report else {})}
    return {"phase": "Succeeded" if code == 0 else "Failed",
            "containerStatuses": [{"name": "agent", "state": {"terminated": term}}]}
