"""ReplicaKeeper: keeps N pods, replaces deleted ones with new identities, readiness after a delay."""

from __future__ import annotations

import time
from typing import Any

from chaos_sandbox.emulator import EmulatorThread
from kubernetes import client

from tests.support.waits import wait_for

NS = "shop"
LABELS = {"app": "checkout"}
CONTAINERS = [{"name": "web", "image": "checkout:1"}]


def test_keeps_replicas_ready_after_the_delay(emulator: EmulatorThread, kube_config: client.Configuration) -> None:
    keeper = emulator.replicas(namespace=NS, labels=LABELS, replicas=3, containers=CONTAINERS, start_delay=0.3)
    pods = emulator.list("pods", NS, label_selector="app=checkout")
    assert len(pods) == 3 and emulator.call(keeper.ready_count) == 0
    assert all(pod["metadata"]["name"].startswith("app-rs-") for pod in pods)
    started = time.monotonic()
    wait_for("3 Ready", lambda: emulator.call(keeper.ready_count) == 3, 5)
    assert time.monotonic() - started >= 0.2

    with client.ApiClient(kube_config) as api:
        core: Any = client.CoreV1Api(api)
        pod = core.read_namespaced_pod(pods[0]["metadata"]["name"], NS)
    owner = pod.metadata.owner_references[0]
    assert (owner.kind, owner.controller) == ("ReplicaSet", True)
    assert (emulator.get("replicasets", NS, owner.name) or {}).get("metadata", {}).get("uid") == owner.uid
    assert pod.status.phase == "Running" and pod.status.pod_ip.startswith("240.0.0.")
    assert pod.spec.node_name and pod.spec.containers[0].image == "checkout:1"


def test_replaces_deleted_pods_with_new_identity(emulator: EmulatorThread, kube_config: client.Configuration) -> None:
    keeper = emulator.replicas(namespace=NS, labels=LABELS, replicas=2, containers=CONTAINERS, start_delay=0.3)
    wait_for("2 Ready", lambda: emulator.call(keeper.ready_count) == 2, 5)
    victim = emulator.list("pods", NS)[0]["metadata"]
    with client.ApiClient(kube_config) as api:
        client.CoreV1Api(api).delete_namespaced_pod(victim["name"], NS, grace_period_seconds=0)
    wait_for("2 pods", lambda: len(emulator.call(keeper.pods)) == 2, 5)
    assert emulator.call(keeper.ready_count) == 1  # the replacement is not Ready yet
    replacement = next(pod["metadata"] for pod in emulator.call(keeper.pods) if not _ready(pod))
    assert replacement["name"] != victim["name"] and replacement["uid"] != victim["uid"]
    started = time.monotonic()
    wait_for("2 Ready", lambda: emulator.call(keeper.ready_count) == 2, 5)
    assert time.monotonic() - started >= 0.15


def test_set_ready_flips_readiness(emulator: EmulatorThread) -> None:
    keeper = emulator.replicas(namespace=NS, labels=LABELS, replicas=2, containers=CONTAINERS, start_delay=0.0)
    wait_for("2 Ready", lambda: emulator.call(keeper.ready_count) == 2, 5)
    name = emulator.call(keeper.pods)[0]["metadata"]["name"]
    emulator.call(keeper.set_ready, name, False)
    time.sleep(0.1)  # the keeper must not flip it back on its own
    assert emulator.call(keeper.ready_count) == 1
    emulator.call(keeper.set_ready, name, True)
    assert emulator.call(keeper.ready_count) == 2
    emulator.run(keeper.stop())
    emulator.delete("pods", NS, name)
    time.sleep(0.1)
    assert len(emulator.list("pods", NS)) == 1  # a stopped keeper replaces nothing


def _ready(pod: dict[str, object]) -> bool:
    status = pod.get("status")
    conditions = status.get("conditions", []) if isinstance(status, dict) else []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
