"""The sandbox's control loops, as plain functions over the emulator's store (run on the emulator's loop).

Deployments → one ReplicaSet per pod template (older ones scaled to 0: a Recreate rollout) → Pods with
`generateName`, labels and controller ownerReferences (their garbage collection is `gc.py`'s); Services →
Endpoints of Ready, non-terminating pods. Kept deliberately small: no rolling updates, no pod adoption, no
scale subresource. The kubelet part (running pods) is in `node.py`; Jobs and CronJobs are `jobcontrol.py`'s.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from chaos_sandbox.emulator.patching import MERGE_PATCH
from chaos_sandbox.emulator.resources import ApiError
from chaos_sandbox.emulator.server import Emulator
from chaos_sandbox.emulator.store import Obj

ANNOTATION = "sandbox.chaosoperator.dev/"
PORT_ANNOTATION = ANNOTATION + "port"  # where a pod's process really listens (differs per pod on loopback)
MANAGED_LABEL = "sandbox.chaosoperator.dev/managed"
MAX_FAILED_PODS = 5  # an RS whose pods keep crashing stops creating more (bounded, unlike CrashLoopBackOff)
MAX_REPLICAS = 10  # per ReplicaSet: every pod is a real process on this machine


class Api:
    """Store access by resource name, for the controllers."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.store = emulator.store

    def list(self, resource: str, namespace: str | None = None) -> list[Obj]:
        return self.store.list(self.emulator.find(resource), namespace)

    def create(self, resource: str, namespace: str | None, body: Obj) -> Obj:
        return self.store.create(self.emulator.find(resource), namespace, body)

    def patch(self, resource: str, namespace: str | None, name: str, patch: Obj, status: bool = False) -> None:
        try:  # a no-op patch writes nothing and sends no event, so reconciling is idempotent
            self.store.patch(self.emulator.find(resource), namespace, name, patch, MERGE_PATCH,
                             "status" if status else None)
        except ApiError as exc:
            if exc.status != 404:  # deleted meanwhile: the next pass sees that
                raise

    def delete(self, resource: str, namespace: str, name: str, grace: int | None = None) -> None:
        try:
            self.store.delete(self.emulator.find(resource), namespace, name, {}, grace)
        except ApiError as exc:
            if exc.status != 404:
                raise


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    return dict(obj.get("metadata") or {})


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    refs = meta(obj).get("ownerReferences") or []
    return next((str(ref.get("uid")) for ref in refs if ref.get("controller")), None)


def terminating(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def pod_ready(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    return (status.get("phase") == "Running" and not terminating(pod)
            and any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []))


def owner_ref(obj: Obj, kind: str) -> dict[str, Any]:
    return {"apiVersion": obj["apiVersion"], "kind": kind, "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def template_hash(template: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def reconcile_deployments(api: Api) -> None:
    replicasets = api.list("apps/v1/replicasets")
    for deploy in api.list("apps/v1/deployments"):
        if terminating(deploy):
            continue
        ns, name, uid = deploy["metadata"]["namespace"], deploy["metadata"]["name"], deploy["metadata"]["uid"]
        spec = deploy.get("spec") or {}
        want = int(spec.get("replicas", 1))
        template = copy.deepcopy(spec.get("template") or {})
        pod_hash = template_hash(template)
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = pod_hash
        owned = [rs for rs in replicasets if controller_uid(rs) == uid]
        current = next((rs for rs in owned if rs["metadata"]["name"] == f"{name}-{pod_hash}"), None)
        if current is None:
            selector = dict((spec.get("selector") or {}).get("matchLabels") or {}, **{"pod-template-hash": pod_hash})
            current = api.create("apps/v1/replicasets", ns, {
                "metadata": {"name": f"{name}-{pod_hash}", "labels": template["metadata"]["labels"],
                             "ownerReferences": [owner_ref(deploy, "Deployment")]},
                "spec": {"replicas": want, "selector": {"matchLabels": selector}, "template": template}})
        api.patch("apps/v1/replicasets", ns, current["metadata"]["name"], {"spec": {"replicas": want}})
        for old in owned:
            if old["metadata"]["name"] != current["metadata"]["name"]:
                api.patch("apps/v1/replicasets", ns, old["metadata"]["name"], {"spec": {"replicas": 0}})
        ready = sum(int((rs.get("status") or {}).get("readyReplicas", 0)) for rs in owned)
        total = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in owned)
        updated = int((current.get("status") or {}).get("replicas", 0))
        available = "True" if ready >= want else "False"
        api.patch("apps/v1/deployments", ns, name, {"status": {
            "observedGeneration": deploy["metadata"].get("generation", 1), "replicas": total,
            "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
            "unavailableReplicas": max(0, want - ready),
            "conditions": [{"type": "Available", "status": available, "reason": "MinimumReplicasAvailable"
                            if available == "True" else "MinimumReplicasUnavailable"}]}}, status=True)


def reconcile_replicasets(api: Api, node_name: str) -> None:
    pods_by_owner: dict[str | None, list[Obj]] = defaultdict(list)
    for pod in api.list("v1/pods"):
        pods_by_owner[controller_uid(pod)].append(pod)
    for rs in api.list("apps/v1/replicasets"):
        if terminating(rs):
            continue
        ns, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        spec = rs.get("spec") or {}
        want = min(int(spec.get("replicas", 1)), MAX_REPLICAS)
        pods = pods_by_owner[rs["metadata"]["uid"]]
        active = [p for p in pods if not terminating(p) and (p.get("status") or {}).get("phase")
                  not in ("Failed", "Succeeded")]
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        if len(active) < want and failed < MAX_FAILED_PODS:
            for _ in range(want - len(active)):
                active.append(api.create("v1/pods", ns, _pod_from(rs, node_name)))
        elif len(active) > want:
            # Not-ready first, then the newest: the order a real ReplicaSet scales down in, roughly.
            newest_first = sorted(active, key=lambda p: str(p["metadata"]["creationTimestamp"]), reverse=True)
            surplus = sorted(newest_first, key=pod_ready)[: len(active) - want]
            for pod in surplus:
                api.delete("v1/pods", ns, pod["metadata"]["name"])
            active = [p for p in active if p not in surplus]
        ready = sum(1 for p in active if pod_ready(p))
        limited = int(spec.get("replicas", 1)) > MAX_REPLICAS
        limit = f"the sandbox runs at most {MAX_REPLICAS} replicas per ReplicaSet"
        conditions = [{"type": "ReplicaFailure", "status": "True", "reason": "SandboxLimit", "message": limit}] \
            if limited else None
        api.patch("apps/v1/replicasets", ns, name, {"status": {
            "replicas": len(active), "fullyLabeledReplicas": len(active), "readyReplicas": ready,
            "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1),
            "conditions": conditions}}, status=True)


def _pod_from(rs: Obj, node_name: str) -> Obj:
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    spec.setdefault("nodeName", node_name)  # a single node: scheduling is a no-op
    return {"metadata": {"generateName": f"{rs['metadata']['name']}-", "labels": tmeta.get("labels") or {},
                         "annotations": tmeta.get("annotations") or {},
                         "ownerReferences": [owner_ref(rs, "ReplicaSet")]},
            "spec": spec}


def reconcile_endpoints(api: Api) -> dict[tuple[str, str], list[tuple[str, int]]]:
    """Write one Endpoints per selector Service; returns each Service's Ready (ip, port) backends."""
    pods = api.list("v1/pods")
    backends: dict[tuple[str, str], list[tuple[str, int]]] = {}
    services = api.list("v1/services")
    for svc in services:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        selector = (svc.get("spec") or {}).get("selector") or {}
        if not selector:
            continue  # no selector: Endpoints are the user's to write
        by_port: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: {"ready": [], "notReady": []})
        ready: list[tuple[str, int]] = []
        for pod in pods:
            labels = meta(pod).get("labels") or {}
            ip = (pod.get("status") or {}).get("podIP")
            port = (meta(pod).get("annotations") or {}).get(PORT_ANNOTATION)
            if meta(pod).get("namespace") != ns or not ip or not port or terminating(pod) \
                    or any(labels.get(k) != v for k, v in selector.items()):
                continue
            address = {"ip": ip, "nodeName": (pod.get("spec") or {}).get("nodeName"),
                       "targetRef": {"kind": "Pod", "namespace": ns, "name": pod["metadata"]["name"],
                                     "uid": pod["metadata"]["uid"]}}
            by_port[int(port)]["ready" if pod_ready(pod) else "notReady"].append(address)
            if pod_ready(pod):
                ready.append((ip, int(port)))
        ports = (svc.get("spec") or {}).get("ports") or []
        # Every Service port maps to the one port the pod's process serves (demo pods serve one port).
        subsets = [{"addresses": groups["ready"], "notReadyAddresses": groups["notReady"],
                    "ports": [{"name": p.get("name", ""), "port": port, "protocol": p.get("protocol", "TCP")}
                              for p in ports]}
                   for port, groups in sorted(by_port.items())]
        backends[(ns, name)] = sorted(ready)
        if any(e["metadata"]["name"] == name for e in api.list("v1/endpoints", ns)):
            api.patch("v1/endpoints", ns, name, {"subsets": subsets})
        else:
            api.create("v1/endpoints", ns, {"metadata": {"name": name, "labels": {MANAGED_LABEL: "true"}},
                                           "subsets": subsets})
    wanted = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in services}
    for ep in api.list("v1/endpoints"):
        key = (ep["metadata"]["namespace"], ep["metadata"]["name"])
        if (meta(ep).get("labels") or {}).get(MANAGED_LABEL) == "true" and key not in wanted:
            api.delete("v1/endpoints", *key)
    return backends
