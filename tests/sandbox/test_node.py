"""The sandbox node: Deployments → ReplicaSets → Pods backed by real processes, Endpoints, the Service proxy."""

from __future__ import annotations

import collections
import os
import signal
import time

import pytest
from chaos_sandbox import leftovers
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.node.controllers import PORT_ANNOTATION, pod_ready
from chaos_sandbox.node.podnet import netns_supported

from tests.support.waits import wait_for
from tests.support.workloads import deployment, endpoint_names, served_by

NS = "shop"


def names_uids(sandbox: Sandbox, app: str) -> dict[str, str]:
    return {p["metadata"]["name"]: p["metadata"]["uid"] for p in sandbox.pods(NS, app)}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_replacement_pods_get_new_names_and_uids(sandbox: Sandbox) -> None:
    sandbox.apply(deployment(NS, "web", 3))
    first = sandbox.wait_ready(NS, "web", 3)
    before = names_uids(sandbox, "web")
    rs = sandbox.emu.list("replicasets", NS)
    assert len(rs) == 1 and rs[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    for pod in first:
        meta = pod["metadata"]
        assert meta["name"].startswith(rs[0]["metadata"]["name"] + "-") and meta["generateName"]
        assert meta["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                            "name": rs[0]["metadata"]["name"], "uid": rs[0]["metadata"]["uid"],
                                            "controller": True, "blockOwnerDeletion": True}]
        assert meta["labels"]["app"] == "web" and meta["labels"]["pod-template-hash"]
        assert pod["spec"]["nodeName"] == "sandbox-node" and pod["status"]["podIP"]
        assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "True"
    victim = first[0]["metadata"]["name"]
    pid = sandbox.pod_pid(NS, victim)
    assert pid is not None and alive(pid)
    sandbox.emu.delete("pods", NS, victim, grace=0)
    wait_for("the replacement", lambda: len(sandbox.wait_ready(NS, "web", 3)) == 3 and victim not in names_uids(
        sandbox, "web"))
    after = names_uids(sandbox, "web")
    new = set(after) - set(before)
    assert len(new) == 1 and set(before) - set(after) == {victim}
    assert after[new.pop()] not in before.values()
    wait_for("the killed process to be reaped", lambda: not alive(pid), 5)
    deploy = sandbox.emu.get("deployments", NS, "web")
    assert deploy is not None and deploy["status"]["readyReplicas"] == 3


def test_endpoints_and_proxy_follow_readiness(sandbox: Sandbox) -> None:
    sandbox.apply(deployment(NS, "web", 3))
    pods = sorted(p["metadata"]["name"] for p in sandbox.wait_ready(NS, "web", 3))
    url = sandbox.resolver.urls()[(NS, "web", 8080)]
    # Per-connection round-robin over the three Ready pods.
    assert sorted(collections.Counter(served_by(url, 30)).values()) == [10, 10, 10]
    unready = pods[0]
    pid = sandbox.pod_pid(NS, unready)
    assert pid is not None
    os.kill(pid, signal.SIGUSR1)  # the demo app now fails its readiness probe
    wait_for("Endpoints to drop the unready pod",
             lambda: endpoint_names(sandbox.emu.get("endpoints", NS, "web")) == (set(pods[1:]), {unready}))
    pod = sandbox.emu.get("pods", NS, unready)
    assert pod is not None and not pod_ready(pod) and pod["status"]["phase"] == "Running"
    assert set(served_by(url, 20)) == set(pods[1:])  # traffic only to Ready endpoints
    os.kill(pid, signal.SIGUSR1)
    wait_for("the pod back in Endpoints",
             lambda: endpoint_names(sandbox.emu.get("endpoints", NS, "web")) == (set(pods), set()))
    assert set(served_by(url, 12)) == set(pods)


def test_a_terminating_pod_leaves_endpoints_at_once(sandbox: Sandbox) -> None:
    sandbox.apply(deployment(NS, "slow", 2, args=["--ignore-sigterm"], grace=3))
    pods = sorted(p["metadata"]["name"] for p in sandbox.wait_ready(NS, "slow", 2))
    url = sandbox.resolver.urls()[(NS, "slow", 8080)]
    pid = sandbox.pod_pid(NS, pods[0])
    sandbox.emu.delete("pods", NS, pods[0])
    # Its process ignores SIGTERM and lives on for the grace period, but no new connection goes to it.
    assert pods[0] not in served_by(url, 10)
    assert pid is not None and alive(pid)
    assert pods[0] not in set.union(*endpoint_names(sandbox.emu.get("endpoints", NS, "slow")))


def test_grace_period_is_honoured(sandbox: Sandbox) -> None:
    sandbox.apply(deployment(NS, "stubborn", 1, args=["--ignore-sigterm"], grace=2))
    sandbox.apply(deployment(NS, "polite", 1, grace=5))
    stubborn = sandbox.wait_ready(NS, "stubborn", 1)[0]["metadata"]["name"]
    polite = sandbox.wait_ready(NS, "polite", 1)[0]["metadata"]["name"]
    pids = {name: sandbox.pod_pid(NS, name) for name in (stubborn, polite)}
    started = time.monotonic()
    sandbox.emu.delete("pods", NS, stubborn)  # no grace given: the pod's terminationGracePeriodSeconds (2)
    sandbox.emu.delete("pods", NS, polite)
    deleting = sandbox.emu.get("pods", NS, stubborn)
    assert deleting is not None and deleting["metadata"]["deletionTimestamp"]
    wait_for("the polite pod to go", lambda: sandbox.emu.get("pods", NS, polite) is None, 5)
    polite_s = time.monotonic() - started
    time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    stubborn_pid = pids[stubborn]
    assert stubborn_pid is not None and alive(stubborn_pid), "SIGKILLed before its grace period ended"
    wait_for("the stubborn pod to go", lambda: sandbox.emu.get("pods", NS, stubborn) is None, 6)
    stubborn_s = time.monotonic() - started
    assert polite_s < 1.5  # exited on SIGTERM, well inside its 5 s
    assert 1.8 <= stubborn_s < 4.5  # ignored SIGTERM: SIGKILLed after its 2 s
    assert not alive(stubborn_pid)


def test_a_crashed_process_fails_its_pod_and_is_replaced(sandbox: Sandbox) -> None:
    sandbox.apply(deployment(NS, "web", 1))
    name = sandbox.wait_ready(NS, "web", 1)[0]["metadata"]["name"]
    pid = sandbox.pod_pid(NS, name)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # behind the API's back, as an OOM kill would
    wait_for("the pod Failed", lambda: (sandbox.emu.get("pods", NS, name) or {}).get("status", {}).get("phase")
             == "Failed")
    replacement = sandbox.wait_ready(NS, "web", 1)[0]["metadata"]["name"]
    assert replacement != name


def test_invalid_args_leave_the_pod_pending_without_a_process(sandbox: Sandbox) -> None:
    sandbox.apply(deployment(NS, "bad", 1, args=["--latency-ms", "-5"]))
    pod = wait_for("the reason", lambda: next((p for p in sandbox.pods(NS, "bad")
                                               if p["status"].get("reason") == "InvalidArgs"), None))
    assert pod["status"]["phase"] == "Pending" and "latency" in pod["status"]["message"]
    assert sandbox.pod_pid(NS, pod["metadata"]["name"]) is None


def test_deleting_the_deployment_removes_its_pods_and_processes(sandbox: Sandbox) -> None:
    sandbox.apply(deployment(NS, "web", 2))
    pids = [sandbox.pod_pid(NS, p["metadata"]["name"]) for p in sandbox.wait_ready(NS, "web", 2)]
    sandbox.emu.delete("deployments", NS, "web")
    wait_for("no pods", lambda: not sandbox.emu.list("pods", NS) and not sandbox.emu.list("replicasets", NS), 10)
    assert all(pid is not None and not alive(pid) for pid in pids)


def test_loopback_mode_serves_each_pod_on_its_own_port() -> None:
    with Sandbox(network="loopback", start_delay=0.2, max_seconds=120) as sb:
        assert sb.mode == "loopback" and "127.0.0.1" in sb.note
        sb.apply(deployment(NS, "web", 2))
        pods = sb.wait_ready(NS, "web", 2)
        assert {p["status"]["podIP"] for p in pods} == {"127.0.0.1"}
        assert len({p["metadata"]["annotations"][PORT_ANNOTATION] for p in pods}) == 2
        url = sb.resolver.urls()[(NS, "web", 8080)]
        assert sorted(collections.Counter(served_by(url, 8)).values()) == [4, 4]
    assert leftovers.scan(sb.token).empty


def test_replicas_are_capped_because_each_pod_is_a_real_process(sandbox: Sandbox) -> None:
    from chaos_sandbox.node.controllers import MAX_REPLICAS

    sandbox.apply(deployment(NS, "big", MAX_REPLICAS + 5))
    wait_for("the cap", lambda: len(sandbox.pods(NS, "big")) == MAX_REPLICAS)
    rs = sandbox.emu.list("replicasets", NS)[0]
    wait_for("the condition", lambda: any(c["reason"] == "SandboxLimit" for c in (
        sandbox.emu.get("replicasets", NS, rs["metadata"]["name"]) or {}).get("status", {}).get("conditions") or []))
    time.sleep(0.3)
    assert len(sandbox.pods(NS, "big")) == MAX_REPLICAS


def test_without_root_it_falls_back_to_loopback_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert netns_supported() == (False, "not running as root")
    assert Sandbox().mode == "loopback"
    assert "127.0.0.1" in Sandbox().note and "not running as root" in Sandbox().note
    with pytest.raises(RuntimeError, match="not running as root"):
        Sandbox(network="netns")


def test_deleting_a_deployment_collects_its_replicaset_and_pods(sandbox: Sandbox) -> None:
    sandbox.apply(deployment(NS, "gone", 2))
    pods = sandbox.wait_ready(NS, "gone", 2)
    pids = [sandbox.pod_pid(NS, p["metadata"]["name"]) for p in pods]
    assert all(pid is not None for pid in pids)
    sandbox.emu.delete("deployments", NS, "gone")  # background propagation (node/gc.py)
    wait_for("its ReplicaSet and pods collected", lambda: not sandbox.emu.list("replicasets", NS)
             and not sandbox.emu.list("pods", NS, label_selector="app=gone"), 30)
    wait_for("their processes stopped", lambda: not any(alive(pid) for pid in pids if pid is not None), 15)
