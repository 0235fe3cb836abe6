"""Pod Security Admission in the emulator (sandbox/chaos_sandbox/emulator/pod_security.py): a pod created over HTTP in a
namespace whose `pod-security.kubernetes.io/enforce` label is `baseline` or `restricted` is refused with 403 and
the message a real API server gives, and admitted when it meets the level; the operator's own helper and stress
pods are checked as they are built."""

from __future__ import annotations

from typing import Any

import pytest
from chaos_sandbox.emulator import EmulatorThread, pod_security

from chaos_operator.models.spec import CPUStressFault, NetworkBandwidthFault
from tests.emulator.http import call
from tests.support import faultpods

UID = "5a5a5a5a-0000-4000-8000-000000000002"


def namespace(emu: EmulatorThread, name: str, level: str | None) -> None:
    labels = {pod_security.ENFORCE: level} if level else {}
    emu.create("namespaces", {"metadata": {"name": name, "labels": labels}})


def restricted_pod(name: str = "fine") -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": "demo", "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}}


def privileged_pod(name: str = "root") -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "hostPID": True, "hostNetwork": True,
        "volumes": [{"name": "proc", "hostPath": {"path": "/proc"}}],
        "containers": [{"name": "agent", "image": "x", "securityContext": {
            "privileged": True, "capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN"]}}}]}}


def network_helper() -> dict[str, Any]:
    fault = NetworkBandwidthFault.model_validate({"kind": "NetworkBandwidth", "rate": "1mbit"})
    return faultpods.pod(fault, experiment_uid=UID, namespace="x", target_uid=UID, node_name="n", image="i",
                         chaos_s=5)


def test_a_restricted_namespace_refuses_a_privileged_pod_with_the_api_servers_message(
        validating_emulator: EmulatorThread) -> None:
    emu = validating_emulator
    namespace(emu, "tenant", "restricted")
    code, body, _ = call(emu, "POST", "/api/v1/namespaces/tenant/pods", privileged_pod())
    assert (code, body["reason"]) == (403, "Forbidden"), body
    assert body["message"].startswith('pods "root" is forbidden: violates PodSecurity "restricted:latest": '
                                      "host namespaces (hostNetwork=true, hostPID=true), privileged (container "
                                      '"agent" must not set securityContext.privileged=true), non-default '
                                      'capabilities (container "agent" must not include "NET_ADMIN", "SYS_ADMIN" '
                                      'in securityContext.capabilities.add), hostPath volumes (volume "proc")')
    for part in ("allowPrivilegeEscalation != false", "runAsNonRoot != true", "seccompProfile (pod or container"):
        assert part in body["message"]
    assert emu.get("pods", "tenant", "root") is None
    code, body, _ = call(emu, "POST", "/api/v1/namespaces/tenant/pods", restricted_pod())
    assert code == 201, body
    assert emu.get("pods", "tenant", "fine") is not None


def test_baseline_refuses_host_access_only_and_no_label_is_privileged(validating_emulator: EmulatorThread) -> None:
    emu = validating_emulator
    namespace(emu, "base", "baseline")
    namespace(emu, "open", None)
    plain = {"metadata": {"name": "plain"}, "spec": {"containers": [{"name": "app", "image": "demo"}]}}
    assert call(emu, "POST", "/api/v1/namespaces/base/pods", plain)[0] == 201  # baseline: no hardening needed
    code, body, _ = call(emu, "POST", "/api/v1/namespaces/base/pods", privileged_pod())
    assert code == 403 and 'violates PodSecurity "baseline:latest"' in body["message"]
    assert "runAsNonRoot" not in body["message"]  # a restricted-only check
    assert call(emu, "POST", "/api/v1/namespaces/open/pods", privileged_pod())[0] == 201
    assert call(emu, "POST", "/api/v1/namespaces/nowhere/pods", privileged_pod())[0] == 201  # no Namespace object


@pytest.mark.parametrize(("labels", "level"), [
    ({}, "privileged"), ({pod_security.ENFORCE: "baseline"}, "baseline"),
    ({pod_security.ENFORCE: "Restricted!"}, "restricted"),  # unknown: fail closed
])
def test_level_of(labels: dict[str, str], level: str) -> None:
    assert pod_security.level_of(labels)[0] == level


def test_the_operators_helper_and_stress_pods_need_privileged() -> None:
    helper = network_helper()
    assert pod_security.violations(helper, {pod_security.ENFORCE: "privileged"}) is None
    refused = pod_security.violations(helper, {pod_security.ENFORCE: "baseline"})
    assert refused is not None and "host namespaces (hostPID=true)" in refused and 'volume "host-proc"' in refused
    fault = CPUStressFault.model_validate({"kind": "CPUStress", "workers": 1, "load": 50})
    stress = faultpods.pod(fault, experiment_uid=UID, namespace="x", target_uid=UID, node_name="n", image="i",
                           chaos_s=5)
    # Stress runs inside the target's cgroups: it writes to the host's cgroupfs, so it is privileged too.
    assert pod_security.violations(stress, {pod_security.ENFORCE: "privileged"}) is None
    refused = pod_security.violations(stress, {pod_security.ENFORCE: "baseline"})
    assert refused is not None and '"SYS_ADMIN"' in refused and '"host-cgroup"' in refused
