"""An in-memory KubeApi for fault unit tests: pods and experiments in dicts, and a kubelet's few reactions."""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Callable, Mapping
from typing import Any

NS = "shop"
OPS = "chaos-system"  # the operator's namespace: helper pods live there
UID = "0d5e8f3a-91c2-4b7e-8a61-5f2c9d7e3b10"
Pod = dict[str, Any]


class FakeKube:
    """Pods and experiments in memory. `on_create(pod)` may return a status for a new pod (a kubelet starting it);
    with `graceful`, a deletion first shows the agent's final report, as a SIGTERMed helper would."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], Pod] = {}
        self.experiments: dict[tuple[str, str], dict[str, Any]] = {}
        self.on_create: Callable[[Pod], dict[str, Any] | None] = lambda pod: None
        self.graceful: dict[str, Any] | None = None
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.fail_list = False
        self.services: dict[tuple[str, str], dict[str, Any]] = {}

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
        if self.fail_list:
            raise RuntimeError("API down")
        wanted = dict(part.split("=") for part in label_selector.split(","))  # equality terms only
        return [copy.deepcopy(p) for (ns, _), p in self.pods.items()
                if ns == namespace and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]

    async def get_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.services.get((namespace, name)))

    async def get_experiment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.experiments.get((namespace, name)))


class FastClock:
    """Monotonic time that moves a second on every reading: bounded waits end after a few real polls."""

    def __init__(self, step: float = 1.0) -> None:
        self.t, self.step = 0.0, step

    def now(self) -> datetime.datetime:
        return datetime.datetime(2025, 3, 4, tzinfo=datetime.UTC)

    def monotonic(self) -> float:
        self.t += self.step
        return self.t


def running(ready: bool = True) -> dict[str, Any]:
    """A running helper; `ready` when its readiness probe passes (its agent has applied the fault)."""
    flag = "True" if ready else "False"
    return {"phase": "Running", "conditions": [{"type": "Ready", "status": flag}],
            "containerStatuses": [{"name": "agent", "ready": ready, "state": {"running": {}}}]}


def terminated(report: dict[str, Any] | None, code: int = 0) -> dict[str, Any]:
    term: dict[str, Any] = {"exitCode": code, **({"message": json.dumps(report)} if report else {})}
    return {"phase": "Succeeded" if code == 0 else "Failed",
            "containerStatuses": [{"name": "agent", "state": {"terminated": term}}]}
