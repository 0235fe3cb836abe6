from typing import Any

import pytest

from chaos_operator.targeting.pods import PodInfo, pod_info


def _pod(phase: str | None = "Running", ready: str | None = "True", deleting: bool = False,
         owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web-1", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    if owners is not None:
        meta["ownerReferences"] = owners
    status: dict[str, Any] = {"podIP": "10.0.0.7"}
    if phase is not None:
        status["phase"] = phase
    if ready is not None:
        status["conditions"] = [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": ready}]
    return {"metadata": meta, "spec": {"nodeName": "node-a"}, "status": status}


@pytest.mark.parametrize(("obj", "ready", "terminating", "phase"), [
    (_pod(), True, False, "Running"),
    (_pod(ready="False"), False, False, "Running"),
    (_pod(ready=None), False, False, "Running"),
    (_pod(phase="Pending", ready="False"), False, False, "Pending"),
    (_pod(phase="Pending", ready="True"), False, False, "Pending"),  # Ready only counts while Running
    (_pod(phase="Succeeded", ready="False"), False, False, "Succeeded"),
    (_pod(deleting=True), True, True, "Running"),  # still Ready, but on its way out
    (_pod(phase=None, ready=None), False, False, "Unknown"),
])
def test_pod_state(obj: dict[str, Any], ready: bool, terminating: bool, phase: str) -> None:
    info = pod_info(obj)
    assert (info.ready, info.terminating, info.phase) == (ready, terminating, phase)


def test_pod_fields() -> None:
    owners: list[dict[str, Any]] = [{"kind": "Node", "name": "node-a"},
                                    {"kind": "ReplicaSet", "name": "web-7f9", "controller": True}]
    assert pod_info(_pod(owners=owners)) == PodInfo(
        name="web-1", namespace="shop", uid="u-1", labels={"app": "web"}, node_name="node-a",
        pod_ip="10.0.0.7", phase="Running", ready=True, terminating=False,
        owner_kind="ReplicaSet", owner_name="web-7f9", pod_ips=("10.0.0.7",))


@pytest.mark.parametrize(("owners", "kind", "name"), [
    (None, None, None),
    ([], None, None),
    ([{"kind": "StatefulSet", "name": "db"}], "StatefulSet", "db"),  # no controller flag: the first one
])
def test_owner(owners: list[dict[str, Any]] | None, kind: str | None, name: str | None) -> None:
    info = pod_info(_pod(owners=owners))
    assert (info.owner_kind, info.owner_name) == (kind, name)


def test_sparse_pod_gets_defaults() -> None:
    info = pod_info({"metadata": {"name": "bare"}})
    assert info == PodInfo(name="bare", namespace="", uid="")
    assert (info.node_name, info.pod_ip, info.ready, info.labels) == (None, None, False, {})


def test_owners_and_addresses_are_read_once_here() -> None:
    obj = _pod(owners=[{"kind": "ChaosExperiment", "name": "exp", "uid": "e-1"}, {"kind": "ReplicaSet"},
                       {"kind": "Job", "uid": "j-1"}])
    obj["status"]["podIPs"] = [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}]
    info = pod_info(obj)
    assert [(o.kind, o.name, o.uid) for o in info.owners] == [("ChaosExperiment", "exp", "e-1"), ("Job", "", "j-1")]
    assert info.owned_by("ChaosExperiment") is not None and info.owned_by("Job") is None  # no name: not whole
    assert info.pod_ips == ("10.0.0.7", "fd00::7") and pod_info(_pod()).pod_ips == ("10.0.0.7",)
    assert pod_info({"metadata": {"ownerReferences": None}, "status": {"podIPs": "x"}}).owners == ()
