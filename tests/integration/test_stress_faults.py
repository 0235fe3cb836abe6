"""CPU and memory stress end to end against the emulator: stress pods pinned to each target's node, with limits and
a deadline and only the privileges to move stress-ng into the target's cgroups; a stress pod that is lost needs no
revert (stress-ng ends with its pod). The fake kubelet of test_network_faults plays the node; stress-ng itself runs
in the sandbox's end-to-end tests."""

from __future__ import annotations

from typing import Any

from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.emulator.replicas import ReplicaKeeper

from chaos_operator.faults.helpers import pod_spec as manifests
from chaos_operator.faults.helpers.pod_spec import TARGET_LABEL
from tests.integration import helper_pods
from tests.integration.conftest import experiment
from tests.integration.helper_pods import (
    LABELS,
    NODE,
    NS,
    OPS,
    events,
    operator,
    wait_injected,
)
from tests.integration.kubelet import FakeKubelet, terminated
from tests.support.harness import StaticResolver
from tests.support.waits import status_of, wait_for, wait_phase

keeper, kubelet = helper_pods.keeper, helper_pods.kubelet  # the same fixtures and fake kubelet; resolver is in conftest


def stress(name: str, fault: dict[str, Any], chaos: str = "6s", mode: str = "all") -> dict[str, Any]:
    return experiment(name, NS, target={"selector": {"matchLabels": LABELS}, "mode": mode}, fault=fault,
                      phases={"baseline": "2s", "chaos": chaos, "recovery": "2s"})


def test_cpu_stress_pods_are_pinned_bounded_and_unprivileged(
        emulator: EmulatorThread, keeper: ReplicaKeeper, resolver: StaticResolver, kubelet: FakeKubelet) -> None:
    kubelet.stopped = lambda pod: {"state": "stopped", "workers_failed": 0}
    targets = {p["metadata"]["uid"] for p in emulator.call(keeper.pods)}
    with operator(emulator, resolver):
        created = emulator.create("chaosexperiments", stress("busy", {"kind": "CPUStress", "workers": 2, "load": 50}),
                                 NS)
        status = wait_phase(emulator, "busy", ("Completed", "Failed", "Aborted"))
    assert (status["phase"], status["verdict"]) == ("Completed", "Passed"), status
    pods = kubelet.seen_role("fault")
    assert {p["metadata"]["labels"][TARGET_LABEL] for p in pods} == targets and len(pods) == 2
    for pod in pods:
        spec, ctr = pod["spec"], pod["spec"]["containers"][0]
        assert pod["metadata"]["name"].startswith("chaos-stress-busy-")
        assert spec["nodeName"] == NODE and spec["hostPID"] is False
        assert spec["activeDeadlineSeconds"] == 6 + manifests.GRACE_S
        assert spec["automountServiceAccountToken"] is False
        # The host's /proc and cgroupfs, to move stress-ng into the target's cgroups; no hostPID.
        assert {v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v} == {"/proc", "/sys/fs/cgroup"}
        uid = pod["metadata"]["labels"][TARGET_LABEL]
        assert ctr["args"] == ["stress", "--duration", "6", "--ready-file", manifests.READY_FILE, "--pod-uid", uid,
                               "--proc-root", manifests.HOST_PROC, "--cgroup-root", manifests.HOST_CGROUP, "--cpu",
                               "2", "--cpu-load", "50"]
        assert ctr["readinessProbe"]["exec"]["command"] == ["test", "-e", manifests.READY_FILE]
        assert ctr["resources"]["limits"] == {"cpu": "100m", "memory": "64Mi"}  # the agent's; stress-ng: the target's
        sc = ctr["securityContext"]
        assert sc["capabilities"] == {"add": ["SYS_ADMIN", "SYS_PTRACE"], "drop": ["ALL"]} and sc["runAsUser"] == 0
        assert pod["metadata"]["namespace"] == OPS  # the operator's, not the tenant's
        assert pod["metadata"]["labels"][manifests.EXPERIMENT_UID_LABEL] == created["metadata"]["uid"]
    assert all(r["state"] == "Recovered" and "agent stopped" in r["message"] for r in status["injections"])
    assert kubelet.helpers() == []


def test_lost_stress_pod_needs_no_revert(emulator: EmulatorThread, keeper: ReplicaKeeper, resolver: StaticResolver,
                                         kubelet: FakeKubelet) -> None:
    fault = {"kind": "MemoryStress", "workers": 2, "size": "256Mi"}
    with operator(emulator, resolver):
        emulator.create("chaosexperiments", stress("hog", fault, chaos="60s", mode="one"), NS)
        (record,) = wait_injected(emulator, "hog")
        pod = kubelet.seen[record["helperPod"]]
        assert pod["spec"]["containers"][0]["args"][-4:] == ["--vm", "2", "--vm-bytes", "128M"]
        # The kernel's OOM killer took the whole pod: it ends without a report.
        emulator.patch("pods", OPS, record["helperPod"], {"status": {"phase": "Failed", "containerStatuses": [
            {"name": "agent", "ready": False, "restartCount": 0, "image": "x", "imageID": "x",
             "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}}, subresource="status")
        (done,) = wait_for("record recovered", lambda: [r for r in status_of(emulator, "hog")["injections"]
                                                        if r["state"] not in ("Injected", "Reverting")])
        ended = wait_phase(emulator, "hog", timeout=60)  # the loss ended the window: the fault no longer held
    assert ended["reason"] == "FaultNotHeld", ended
    assert done["state"] == "Recovered" and "OOMKilled" in done["message"] and "nothing to revert" in done["message"]
    assert kubelet.seen_role("revert") == []
    assert "HelperLost" in events(emulator, "hog")
    wait_for("no stress pod left", lambda: kubelet.helpers() == [], 10)


def test_stress_workers_dying_at_start_fail_the_injection(
        emulator: EmulatorThread, keeper: ReplicaKeeper, resolver: StaticResolver, kubelet: FakeKubelet) -> None:
    report = {"state": "failed", "reason": "WorkersFailed", "error": "vm: 2 of 2 instances killed by the OOM killer"}
    kubelet.start = lambda pod: terminated(report, 7)
    with operator(emulator, resolver):
        emulator.create("chaosexperiments", stress("oom", {"kind": "MemoryStress", "size": "64Gi"}), NS)
        status = wait_phase(emulator, "oom", ("Completed", "Failed", "Aborted"))
    assert (status["phase"], status["reason"]) == ("Failed", "InjectionFailed"), status
    assert all(r["state"] == "Failed" and "WorkersFailed" in r["message"] and "OOM" in r["message"]
               for r in status["injections"])
    assert kubelet.helpers() == []
