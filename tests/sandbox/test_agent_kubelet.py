"""Pods in real cgroups, and helper and stress pods run for real by the sandbox's kubelet (root): no operator here,
the tests create the operator's own manifests (faults/manifests.py) and watch what a kubelet would report."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest
from chaos_sandbox import leftovers
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.node import cgroups, limits
from chaos_sandbox.node.agentpods import OPERATOR_IMAGE

from chaos_operator.agent import procfs
from chaos_operator.faults.helpers import pod_spec as manifests
from chaos_operator.faults.helpers.report import view
from chaos_operator.models.spec import CPUStressFault, NetworkBandwidthFault
from tests.support import faultpods
from tests.support.system import commands_in, root_qdisc, why_not
from tests.support.waits import wait_for
from tests.support.workloads import deployment

REASON = why_not()
pytestmark = pytest.mark.timeout(60)
needs_root = pytest.mark.skipif(REASON is not None, reason=REASON or "")
NS = "agents"
EXPERIMENT_UID = "5a5a5a5a-0000-4000-8000-000000000001"


def demo_pod(sandbox: Sandbox, app: str = "web", args: tuple[str, ...] = ()) -> dict[str, Any]:
    sandbox.apply(deployment(NS, app, 1, args=args))
    (pod,) = sandbox.wait_ready(NS, app, 1)
    return pod


def create_helper(sandbox: Sandbox, target_uid: str, fault: Any, chaos_s: float, role: manifests.Role = "fault",
                  **spec: Any) -> str:
    identity: dict[str, Any] = dict(experiment="exp", experiment_uid=EXPERIMENT_UID, namespace=NS,
                                    target_uid=target_uid, node_name="sandbox-node", image=OPERATOR_IMAGE,
                                    chaos_s=chaos_s, role=role)
    h = faultpods.helper(fault, **identity)
    body = faultpods.pod(fault, owner=EXPERIMENT_UID if fault.kind.startswith("Network") else None, **identity)
    body["spec"].update(spec)
    sandbox.emu.create("pods", body, NS)
    return manifests.name_of(h)


def pod_of(sandbox: Sandbox, name: str) -> dict[str, Any]:
    return sandbox.emu.get("pods", NS, name) or {}


def download_mbit(url: str, size: int = 200_000) -> float:
    assert url.startswith("http://127.0.0.1:"), url
    started = time.monotonic()
    with urllib.request.urlopen(f"{url}/bytes?n={size}", timeout=15) as resp:
        assert len(resp.read()) == size
    return size * 8 / (time.monotonic() - started) / 1e6


@needs_root
def test_pod_processes_live_in_cgroups_named_with_their_pod_uid(sandbox: Sandbox) -> None:
    pod = demo_pod(sandbox)
    uid, name = pod["metadata"]["uid"], pod["metadata"]["name"]
    pid = sandbox.pod_pid(NS, name)
    assert pid is not None and sandbox.cgroups is not None
    # The agent's own lookup finds the process, in the pod's network namespace.
    assert procfs.pod_pids(uid) == [pid]
    assert procfs.find_target(uid).pid == pid
    container_id = pod["status"]["containerStatuses"][0]["containerID"].removeprefix("containerd://")
    line = next(ln for ln in pathlib.Path(f"/proc/{pid}/cgroup").read_text().splitlines() if f"pod{uid}" in ln)
    assert line.endswith(f"/csbx-{sandbox.token}/kubepods/besteffort/pod{uid}/{container_id}"), line
    assert sandbox.node_cpus is None or os.sched_getaffinity(pid) == set(sandbox.node_cpus)
    pod_dir = sandbox.cgroups.root / "kubepods" / "besteffort" / f"pod{uid}"
    assert (pod_dir / container_id / "cgroup.procs").read_text().split() == [str(pid)]
    sandbox.emu.delete("pods", NS, name, grace=0)
    wait_for("the pod's cgroup to go", lambda: not pod_dir.exists(), 10)


@needs_root
def test_a_bandwidth_helper_runs_the_agent_which_shapes_the_pod_until_its_deletion(sandbox: Sandbox) -> None:
    pod = demo_pod(sandbox, "bulk")
    netns = sandbox.pod_netns(NS, pod["metadata"]["name"])
    url = sandbox.resolver.urls()[(NS, "bulk", 8080)]
    assert netns is not None
    before = download_mbit(url)
    fault = NetworkBandwidthFault.model_validate({"kind": "NetworkBandwidth", "rate": "2mbit"})
    name = create_helper(sandbox, pod["metadata"]["uid"], fault, chaos_s=60)
    # Ready as the operator reads it (helper_status.view): the probe found the agent's ready file, which the agent
    # creates only once its qdisc is in place, so the tbf is there the moment the pod says Ready.
    running = wait_for("the agent ready", lambda: view(pod_of(sandbox, name)).ready and pod_of(sandbox, name), 15)
    assert root_qdisc(netns).startswith("tbf c4a0:")
    status = running["status"]
    assert status["phase"] == "Running" and status["containerStatuses"][0]["started"] is True
    assert {"type": "Ready", "status": "True"} in [{k: c[k] for k in ("type", "status")} for c in status["conditions"]]
    assert sandbox.node is not None
    ready_file = sandbox.node.agents.plan(running).volumes["ready"] / "applied"  # the pod's emptyDir, mapped here
    assert ready_file.exists()
    under = download_mbit(url)
    print(f"\n200 kB through the Service proxy: {before:.0f} Mbit/s, {under:.2f} Mbit/s under a 2mbit limit")
    assert 1.3 < under < 2.3 and before > 20  # the configured rate, give or take TCP and the bucket
    helper_uid = running["metadata"]["uid"]
    assert sandbox.cgroups is not None and any(f"pod{helper_uid}" in str(p) for p in (
        sandbox.cgroups.root / "kubepods" / "besteffort").iterdir())
    deleted = time.monotonic()
    sandbox.emu.delete("pods", NS, name)
    final = wait_for("the final status", lambda: "terminated" in str(pod_of(sandbox, name).get("status"))
                     and pod_of(sandbox, name), 10)
    revert_s = time.monotonic() - deleted
    state = final["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (final["status"]["phase"], state["exitCode"], state["reason"]) == ("Succeeded", 0, "Completed")
    assert '"state":"reverted"' in state["message"] and '"ended_by":"SIGTERM"' in state["message"], state
    assert root_qdisc(netns).split()[0] != "tbf"
    assert not final["status"]["containerStatuses"][0]["ready"] and not ready_file.exists()
    print(f"SIGTERM to reverted and reported: {revert_s:.2f}s")
    assert revert_s < 2.0
    wait_for("the helper pod gone", lambda: not pod_of(sandbox, name), 5)
    assert not ready_file.parent.exists()  # the pod's emptyDir went with it
    assert not any(f"pod{helper_uid}" in str(p) for p in (sandbox.cgroups.root / "kubepods" / "besteffort").iterdir())


@needs_root
def test_a_revert_only_helper_runs_to_completion(sandbox: Sandbox) -> None:
    pod = demo_pod(sandbox)
    fault = NetworkBandwidthFault.model_validate({"kind": "NetworkBandwidth", "rate": "2mbit"})
    name = create_helper(sandbox, pod["metadata"]["uid"], fault, chaos_s=60, role="revert")
    final = wait_for("Succeeded", lambda: pod_of(sandbox, name).get("status", {}).get("phase") == "Succeeded"
                     and pod_of(sandbox, name), 15)
    state = final["status"]["containerStatuses"][0]["state"]["terminated"]
    assert state["exitCode"] == 0 and '"state":"absent"' in state["message"], state  # nothing of ours was there
    time.sleep(0.3)
    assert pod_of(sandbox, name), "a finished pod stays until it is deleted"
    sandbox.emu.delete("pods", NS, name)
    wait_for("gone at once", lambda: not pod_of(sandbox, name), 2)


@needs_root
def test_the_active_deadline_ends_a_stress_pod_like_a_kubelet(sandbox: Sandbox) -> None:
    pod = demo_pod(sandbox)
    fault = CPUStressFault.model_validate({"kind": "CPUStress", "workers": 1, "load": 10})
    started = time.monotonic()
    name = create_helper(sandbox, pod["metadata"]["uid"], fault, chaos_s=60, activeDeadlineSeconds=3)
    assert sandbox.cgroups is not None
    root = sandbox.cgroups.root
    wait_for("stress-ng running", lambda: "stress-ng-cpu" in commands_in(root), 10)
    failed = wait_for("DeadlineExceeded", lambda: pod_of(sandbox, name).get("status", {}).get("reason")
                      == "DeadlineExceeded" and pod_of(sandbox, name), 10)
    assert failed["status"]["phase"] == "Failed" and 2.5 < time.monotonic() - started < 6
    final = wait_for("the agent's report", lambda: "terminated" in str(pod_of(sandbox, name)["status"].get(
        "containerStatuses")) and pod_of(sandbox, name), 10)
    state = final["status"]["containerStatuses"][0]["state"]["terminated"]
    assert final["status"]["phase"] == "Failed" and final["status"]["reason"] == "DeadlineExceeded"
    assert sandbox.work_dir is not None
    assert "message" in state, (state, (sandbox.work_dir / "pods" / f"{NS}_{name}.log").read_text())
    assert '"state":"stopped"' in state["message"] and '"ended_by":"SIGTERM"' in state["message"], state
    assert not [c for c in commands_in(root) if c.startswith("stress-ng")]
    sandbox.emu.delete("pods", NS, name)
    wait_for("gone", lambda: not pod_of(sandbox, name), 5)


@needs_root
def test_pods_that_are_not_the_agent_stay_pending_and_nothing_runs(sandbox: Sandbox, tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "ran"
    agent = ["python", "-m", "chaos_operator.agent"]
    pods: dict[str, dict[str, Any]] = {
        "shell": {"command": ["sh", "-c", f"touch {marker}"]},
        "python": {"command": ["python", "-c", f"open({str(marker)!r}, 'w')"]},
        "env": {"command": agent, "args": ["stress", "--duration", "5", "--cpu", "1"],
                "env": [{"name": "PYTHONSTARTUP", "value": str(marker)}]},
        "mount": {"command": agent, "args": ["stress", "--duration", "5", "--cpu", "1"],
                  "volumeMounts": [{"name": "etc", "mountPath": "/host/etc"}]},
    }
    for name, container in pods.items():
        volumes = [{"name": "etc", "hostPath": {"path": "/etc"}}] if name == "mount" else []
        sandbox.emu.create("pods", {"metadata": {"name": name}, "spec": {
            "nodeName": "sandbox-node", "volumes": volumes,
            "containers": [{"name": "agent", "image": OPERATOR_IMAGE, **container}]}}, NS)
    for name in pods:
        def reason(pod: str = name) -> str:
            return str(pod_of(sandbox, pod).get("status", {}).get("reason") or "")
        assert wait_for(f"{name} refused", reason, 5) in ("CommandRefused", "Unsupported")
        status = pod_of(sandbox, name)["status"]
        assert status["phase"] == "Pending" and status["containerStatuses"][0]["state"]["waiting"]["reason"] in (
            "CommandRefused", "Unsupported"), status
        assert sandbox.pod_pid(NS, name) is None
    time.sleep(0.5)
    assert not marker.exists()


def test_without_its_own_cgroups_the_sandbox_runs_no_helper_pod() -> None:
    with Sandbox(network="loopback", start_delay=0.1, max_seconds=60) as sb:
        assert sb.cgroups is None
        sb.emu.create("pods", {"metadata": {"name": "helper"}, "spec": {"nodeName": "sandbox-node", "containers": [
            {"name": "agent", "image": OPERATOR_IMAGE, "command": ["python", "-m", "chaos_operator.agent"],
             "args": ["stress", "--duration", "5", "--cpu", "1"]}]}}, NS)
        status = wait_for("refused", lambda: (sb.emu.get("pods", NS, "helper") or {}).get("status", {}).get("reason")
                          and sb.emu.get("pods", NS, "helper"), 5)["status"]
        assert (status["phase"], status["reason"]) == ("Pending", "SandboxNeedsRoot")
    assert leftovers.scan(sb.token).empty


@needs_root
def test_the_sweep_removes_a_dead_runs_cgroups_and_whatever_runs_in_them() -> None:
    base = cgroups.hierarchy()
    assert base is not None
    token = "zz" + str(os.getpid() % 100).zfill(2)  # no run file: a dead run
    dead = cgroups.RunCgroups(token, base, limits.bases())  # its cpu tree too, where that hierarchy is v1
    dead.open()
    made = dead.container("1f2e3d4c-0000-4000-8000-00000000000c", limits.Limits(cpu_quota_us=50_000))
    proc = subprocess.Popen([sys.executable, "-m", "chaos_sandbox.node.cgexec", ":".join(map(str, made)), "sleep",
                             "60"])
    trees = [str(root) for root in dead.roots() if root.exists()]
    try:
        wait_for("sleep in its cgroup", lambda: cgroups.procs(dead.root) == [proc.pid], 5)
        found = leftovers.scan(token)
        assert sorted(found.cgroups) == sorted(trees) and found.processes == [(proc.pid, token)], found.describe()
        leftovers.sweep(token)
        assert proc.wait(5) == -9
        assert not any(pathlib.Path(tree).exists() for tree in trees) and leftovers.scan(token).empty
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for root in dead.roots():
            cgroups.remove_tree_sync(root)
