"""Helper and stress pod manifests (pure): deadline, capabilities, token, node pinning, owner, labels, names."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import TypeAdapter

from chaos_operator.faults.helpers import pod_spec as manifests
from chaos_operator.faults.helpers.pod_spec import helper_name
from chaos_operator.models.spec import DNS_LABEL, LABEL_VALUE, Fault
from tests.support import faultpods
from tests.support.helper_pods import (
    EXP_UID,
    FAULTS,
    NETWORK,
    STRESS,
    UID,
    container,
    fault,
    helper,
    helper_pod,
    identity,
)

READY = ["--ready-file", "/run/chaos-agent/applied"]
INTO = ["--pod-uid", UID, "--proc-root", "/host/proc", "--cgroup-root", "/host/sys/fs/cgroup"]


def agent_argv(kind: str = "NetworkLatency", **changes: Any) -> list[str]:
    the_fault = changes.pop("fault", None) or fault(kind)
    args = identity(**changes)
    return faultpods.argv(the_fault, args["target_uid"], args["chaos_s"], args.get("role", "fault"))


@pytest.mark.parametrize(("chaos_s", "role", "deadline"), [
    (120.0, "fault", 150), (1.5, "fault", 32), (3600.0, "fault", 3630), (120.0, "revert", 60),
])
def test_deadline_is_the_chaos_window_plus_grace(chaos_s: float, role: str, deadline: int) -> None:
    pod = helper_pod(chaos_s=chaos_s, role=role)
    assert pod["spec"]["activeDeadlineSeconds"] == deadline


@pytest.mark.parametrize("kind", NETWORK)
def test_network_helper_privileges(kind: str) -> None:
    pod = helper_pod(kind)
    spec, ctr = pod["spec"], container(pod)
    assert spec["hostPID"] is True
    sc = ctr["securityContext"]
    assert sc["capabilities"] == {"add": ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"], "drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True and "privileged" not in sc
    # Kubernetes refuses allowPrivilegeEscalation: false together with SYS_ADMIN.
    assert "allowPrivilegeEscalation" not in sc
    assert {"name": "host-proc", "mountPath": "/host/proc", "readOnly": True} in ctr["volumeMounts"]
    assert {"name": "host-proc", "hostPath": {"path": "/proc", "type": "Directory"}} in spec["volumes"]
    assert ctr["args"][ctr["args"].index("--proc-root") + 1] == "/host/proc"


@pytest.mark.parametrize("kind", STRESS)
def test_stress_pod_holds_the_hosts_proc_and_cgroupfs_but_no_host_pid(kind: str) -> None:
    pod = helper_pod(kind)
    spec, ctr = pod["spec"], container(pod)
    assert spec["hostPID"] is False and spec["nodeName"] == "node-b"
    sc = ctr["securityContext"]
    assert sc["capabilities"] == {"add": ["SYS_ADMIN", "SYS_PTRACE"], "drop": ["ALL"]} and sc["runAsUser"] == 0
    assert sc["readOnlyRootFilesystem"] is True
    hostpaths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if v.get("hostPath")}
    assert hostpaths == {"host-proc": "/proc", "host-cgroup": "/sys/fs/cgroup"}
    assert {"name": "host-proc", "mountPath": "/host/proc", "readOnly": True} in ctr["volumeMounts"]
    assert {"name": "host-cgroup", "mountPath": "/host/sys/fs/cgroup"} in ctr["volumeMounts"]
    args = ctr["args"]
    assert args[args.index("--pod-uid") + 1] == UID and args[args.index("--cgroup-root") + 1] == "/host/sys/fs/cgroup"


# Stress pods are never reverted, only deleted: no (stress, revert) case.
@pytest.mark.parametrize(("kind", "role"), [*((k, r) for k in NETWORK for r in ("fault", "revert")),
                                            *((k, "fault") for k in STRESS)])
def test_common_pod_settings(kind: str, role: str) -> None:
    h = helper(kind, role=role)
    pod = helper_pod(kind, role=role)
    spec, meta, ctr = pod["spec"], pod["metadata"], container(pod)
    assert spec["automountServiceAccountToken"] is False
    assert spec["nodeName"] == "node-b"
    assert not {"nodeSelector", "affinity", "serviceAccountName"} & set(spec)
    assert spec["restartPolicy"] == "Never" and spec["enableServiceLinks"] is False
    assert ctr["terminationMessagePolicy"] == "File" and ctr["terminationMessagePath"] == "/dev/termination-log"
    assert ctr["image"] == "registry.example/chaos-operator:1.2.3"
    assert ctr["command"] == ["python", "-m", "chaos_operator.agent"]
    assert ctr["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert set(ctr["resources"]) == {"requests", "limits"}
    assert set(ctr["resources"]["limits"]) == {"cpu", "memory"}
    assert meta["namespace"] == "chaos-system" and meta["name"] == manifests.name_of(h)
    assert "ownerReferences" not in meta  # cannot cross namespaces: labels name the experiment
    assert meta["annotations"] == {"chaosoperator.dev/experiment": "checkout-latency"}
    assert meta["labels"] == {"app.kubernetes.io/managed-by": "chaos-operator", "app.kubernetes.io/name": "chaos-agent",
                              "chaosoperator.dev/experiment": "checkout-latency",
                              "chaosoperator.dev/experiment-namespace": "shop",
                              "chaosoperator.dev/experiment-uid": EXP_UID, "chaosoperator.dev/target-uid": UID,
                              "chaosoperator.dev/role": role}


@pytest.mark.parametrize(("kind", "limits"), [
    # stress-ng's load is charged to the target's cgroups: a stress pod requests only its agent's own
    ("CPUStress", {"cpu": "100m", "memory": "64Mi"}),
    ("MemoryStress", {"cpu": "100m", "memory": "64Mi"}),
    ("NetworkLatency", {"cpu": "200m", "memory": "128Mi"}),
])
def test_limits(kind: str, limits: dict[str, str]) -> None:
    resources = container(helper_pod(kind))["resources"]
    assert resources["limits"] == limits
    # A stress pod requests what its agent uses; a network helper barely any.
    assert (resources["requests"] == limits) is (kind in STRESS)


def test_a_long_experiment_name_gives_valid_names_and_labels() -> None:
    name = "a." + "very-long-experiment-name." * 9 + "z"
    pod = helper_pod(experiment=name)
    assert len(pod["metadata"]["name"]) <= 63 and re.fullmatch(DNS_LABEL, pod["metadata"]["name"])
    label = pod["metadata"]["labels"]["chaosoperator.dev/experiment"]
    assert len(label) <= 63 and re.fullmatch(LABEL_VALUE, label)
    assert pod["metadata"]["annotations"]["chaosoperator.dev/experiment"] == name  # the full name, for the sweep


def test_names_are_stable_and_distinct() -> None:
    def name(**changes: Any) -> str:
        args: dict[str, Any] = dict(experiment="checkout", experiment_uid=EXP_UID, target_uid=UID,
                                    kind="NetworkLatency", role="fault", round_=0)
        args.update(changes)
        family = faultpods.helper_fault(args["kind"]).family  # each fault module names its family
        return helper_name(**args, family=family)

    assert name() == name()  # a retry finds its own pod
    variants = [name(), name(experiment="checkout2"), name(experiment_uid=UID), name(target_uid=EXP_UID),
                name(kind="NetworkBandwidth"), name(kind="CPUStress"), name(role="revert"), name(round_=1)]
    assert len(set(variants)) == len(variants)
    for value in variants:
        assert len(value) <= 63 and re.fullmatch(DNS_LABEL, value), value
    assert name().startswith("chaos-net-checkout-") and name(role="revert").startswith("chaos-revert-")
    assert name(kind="MemoryStress").startswith("chaos-stress-checkout-")


@pytest.mark.parametrize(("kind", "changes", "argv"), [
    ("NetworkLatency", {}, ["netem", "--duration", "120", *READY, "--pod-uid", UID, "--proc-root", "/host/proc",
                            "--latency", "100ms", "--jitter", "20ms", "--correlation", "25"]),
    ("NetworkLatency", {"jitter": "0ms", "correlation": 50, "interface": "eth1"},
     ["netem", "--duration", "120", *READY, "--pod-uid", UID, "--proc-root", "/host/proc", "--latency", "100ms",
      "--interface", "eth1"]),
    ("NetworkLatency", {"latency": "1500ms", "jitter": "1s", "correlation": 0},
     ["netem", "--duration", "120", *READY, "--pod-uid", UID, "--proc-root", "/host/proc", "--latency", "1.5s",
      "--jitter", "1s"]),
    ("NetworkBandwidth", {}, ["bandwidth", "--duration", "120", *READY, "--pod-uid", UID, "--proc-root", "/host/proc",
                              "--rate", "2mbit", "--interface", "eth0"]),
    ("NetworkBandwidth", {"interface": None, "burst": "64Ki", "limit": "1Mi"},
     ["bandwidth", "--duration", "120", *READY, "--pod-uid", UID, "--proc-root", "/host/proc", "--rate", "2mbit",
      "--burst", "65536", "--limit", "1048576"]),
    ("CPUStress", {}, ["stress", "--duration", "120", *READY, *INTO, "--cpu", "4", "--cpu-load", "80"]),
    ("MemoryStress", {}, ["stress", "--duration", "120", *READY, *INTO, "--vm", "2", "--vm-bytes", "512M"]),
    ("MemoryStress", {"workers": 32, "size": "16Mi"}, ["stress", "--duration", "120", *READY, *INTO, "--vm", "32",
                                                       "--vm-bytes", "1M"]),
])
def test_agent_argv(kind: str, changes: dict[str, Any], argv: list[str]) -> None:
    body = {k: v for k, v in {**FAULTS[kind], **changes}.items() if v is not None}
    assert agent_argv(fault=TypeAdapter(Fault).validate_python(body)) == argv


@pytest.mark.parametrize(("kind", "argv"), [
    ("NetworkLatency", ["netem", "--revert-only", "--pod-uid", UID, "--proc-root", "/host/proc"]),
    ("NetworkBandwidth", ["bandwidth", "--revert-only", "--pod-uid", UID, "--proc-root", "/host/proc",
                          "--interface", "eth0"]),
])
def test_revert_argv(kind: str, argv: list[str]) -> None:
    assert agent_argv(kind, role="revert") == argv


def test_stress_has_no_revert_and_a_bad_uid_never_reaches_an_argv() -> None:
    with pytest.raises(ValueError, match="nothing to revert"):
        agent_argv("CPUStress", role="revert")
    for uid in ("$(reboot)", "--help", UID.upper(), UID + "\n", ""):
        with pytest.raises(ValueError, match="not a pod UID"):
            agent_argv(target_uid=uid)
