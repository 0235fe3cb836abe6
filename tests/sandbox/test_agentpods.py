"""How the sandbox would run an operator-image pod (pure): the argv it builds from the operator's own manifests,
the container paths it maps, and every manifest it refuses to run."""

from __future__ import annotations

import copy
import pathlib
import sys
from typing import Any

import pytest
from chaos_sandbox.node.agentpods import OPERATOR_IMAGE, ReadyProbe, Refused, plan, termination_message
from chaos_sandbox.node.podprocess import exit_code_of

from chaos_operator.faults.helpers import pod_spec as manifests
from chaos_operator.models.spec import CPUStressFault, NetworkBandwidthFault
from tests.support import faultpods

UID = "1f2e3d4c-0000-4000-8000-00000000000a"
FILES = pathlib.Path("/run/sandbox-test/agents/x")
READY = FILES / "volumes" / "ready" / "applied"


def helper(fault: Any, role: manifests.Role = "fault") -> dict[str, Any]:
    return faultpods.pod(fault, experiment="exp", experiment_uid="5a5a5a5a-0000-4000-8000-000000000001",
                         namespace="shop", target_uid=UID, node_name="sandbox-node", image=OPERATOR_IMAGE, chaos_s=6,
                         role=role)


BANDWIDTH = NetworkBandwidthFault.model_validate({"kind": "NetworkBandwidth", "rate": "2mbit"})
STRESS = CPUStressFault.model_validate({"kind": "CPUStress", "workers": 2, "load": 50})


def test_the_network_helper_runs_the_agent_with_the_host_proc_and_its_termination_log() -> None:
    p = plan(helper(BANDWIDTH), FILES)
    assert p.argv == [sys.executable, "-m", "chaos_operator.agent", "bandwidth", "--duration", "6", "--ready-file",
                      str(READY), "--pod-uid", UID, "--proc-root", "/proc", "--rate", "2mbit", "--termination-log",
                      str(FILES / "termination-log")]
    assert (p.container, p.image, p.deadline_s, p.grace_s) == ("agent", OPERATOR_IMAGE, 36.0, 15.0)
    assert p.tmp == FILES / "volumes" / "tmp"
    assert p.volumes == {"tmp": FILES / "volumes" / "tmp", "ready": FILES / "volumes" / "ready"}
    # The probe tests the very file the agent was told to create: both mapped to the pod's emptyDir here.
    assert p.probe == ReadyProbe(READY, period_s=1.0, success_threshold=1, failure_threshold=1)
    assert not p.fallback_to_logs


def test_the_stress_pod_and_the_revert_only_helper() -> None:
    stress = plan(helper(STRESS), FILES)
    # The host's /proc and cgroupfs are this machine's own.
    assert stress.argv[3:] == ["stress", "--duration", "6", "--ready-file", str(READY), "--pod-uid", UID,
                               "--proc-root", "/proc", "--cgroup-root", "/sys/fs/cgroup", "--cpu", "2", "--cpu-load",
                               "50", "--termination-log", str(FILES / "termination-log")]
    assert stress.probe is not None and stress.probe.path == READY
    revert = plan(helper(BANDWIDTH, "revert"), FILES)
    assert revert.probe is None  # runs to completion: Ready while it runs, as a pod without a probe is
    assert revert.argv[3:8] == ["bandwidth", "--revert-only", "--pod-uid", UID, "--proc-root"]
    assert revert.argv[8] == "/proc" and revert.deadline_s == 60


def test_container_paths_in_arguments_are_mapped_exactly() -> None:
    pod = helper(BANDWIDTH)
    ctr = pod["spec"]["containers"][0]
    ctr["args"] += ["--x=/host/proc/1/ns/net", "/host/procfoo", "/tmp/a", "--termination-log", "/dev/termination-log"]
    p = plan(pod, FILES)
    assert p.argv[-5:] == ["--x=/proc/1/ns/net", "/host/procfoo", str(FILES / "volumes/tmp/a"), "--termination-log",
                           str(FILES / "termination-log")]  # given once: not added again


def mutated(change: Any) -> dict[str, Any]:
    pod = copy.deepcopy(helper(BANDWIDTH))
    change(pod["spec"], pod["spec"]["containers"][0])
    return pod


@pytest.mark.parametrize(("change", "reason", "words"), [
    (lambda s, c: c.update(command=["sh", "-c", "touch /tmp/pwned"]), "CommandRefused", "python -m"),
    (lambda s, c: c.update(command=["python", "-c", "print(1)"]), "CommandRefused", "python -m"),
    (lambda s, c: c.update(command=["python", "-m", "http.server"]), "CommandRefused", "http.server"),
    (lambda s, c: c.update(command=["/opt/other/python3", "-m", "chaos_operator.agent"]), "CommandRefused", "-m"),
    (lambda s, c: c.pop("command"), "CommandRefused", "python -m"),
    (lambda s, c: c.update(args="bandwidth --rate 1mbit"), "InvalidArgs", "list of strings"),
    (lambda s, c: c.update(args=["bandwidth", "a\0b"]), "InvalidArgs", "list of strings"),
    (lambda s, c: c.update(env=[{"name": "PYTHONPATH", "value": "/tmp"}]), "Unsupported", "environment"),
    (lambda s, c: c.update(envFrom=[{"configMapRef": {"name": "x"}}]), "Unsupported", "environment"),
    (lambda s, c: s["volumes"][1]["hostPath"].update(path="/etc"), "Unsupported", "'/etc'"),
    (lambda s, c: s["volumes"].append({"name": "cfg", "configMap": {"name": "x"}}) or c["volumeMounts"].append(
        {"name": "cfg", "mountPath": "/cfg"}), "Unsupported", "only emptyDir"),
    (lambda s, c: c["volumeMounts"][0].update(subPath="x"), "Unsupported", "volume mount"),
    (lambda s, c: s.update(initContainers=[dict(c)]), "Unsupported", "one container"),
    (lambda s, c: s["containers"].append(dict(c, name="two")), "Unsupported", "one container"),
    # Readiness the sandbox cannot evaluate is never guessed.
    (lambda s, c: c["readinessProbe"].update(exec={"command": ["sh", "-c", "test -e /x"]}), "Unsupported", "test -e"),
    (lambda s, c: c["readinessProbe"].update(exec=None, httpGet={"port": 8080}), "Unsupported", "test -e"),
    (lambda s, c: c["readinessProbe"]["exec"].update(command=["test", "-e", "/etc/passwd"]), "Unsupported",
     "not on an emptyDir"),
    (lambda s, c: c["readinessProbe"]["exec"].update(command=["test", "-e", "/host/proc/1"]), "Unsupported",
     "not on an emptyDir"),
    (lambda s, c: c["readinessProbe"].update(periodSeconds=0), "Unsupported", "periodSeconds"),
])
def test_anything_but_the_agent_is_refused(change: Any, reason: str, words: str) -> None:
    with pytest.raises(Refused, match=words) as caught:
        plan(mutated(change), FILES)
    assert caught.value.reason == reason


def test_termination_message_is_the_file_or_with_fallback_the_log_tail(tmp_path: pathlib.Path) -> None:
    p = plan(helper(STRESS), tmp_path)
    p.message_file.write_text("x" * 5000)
    assert termination_message(p, 0, None) == "x" * 4096  # a kubelet keeps 4096 bytes
    p.message_file.write_text("")
    log = tmp_path / "log"
    log.write_text("".join(f"line {i}\n" for i in range(200)))
    assert termination_message(p, 1, log) == ""  # policy File: no fallback
    fallback = mutated(lambda s, c: c.update(terminationMessagePolicy="FallbackToLogsOnError"))
    q = plan(fallback, tmp_path)
    assert termination_message(q, 0, log) == ""  # only after a failure
    tail = termination_message(q, 2, log)
    assert tail.startswith("line 120") and tail.endswith("line 199")
    assert [exit_code_of(code) for code in (0, 3, -15, -9)] == [0, 3, 143, 137]
