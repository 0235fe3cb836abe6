"""A network fault against a target in a tenant namespace that enforces the `restricted` Pod Security Standard:
the sandbox's API server refuses privileged pods there (as a cluster does), so the fault works only because its
helper lives in the operator's namespace, pinned to the target's node, and finds the target by pod UID through the
host's /proc. Root only (network namespaces, cgroups, tc)."""

from __future__ import annotations

import pytest
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.emulator import pod_security
from chaos_sandbox.emulator.resources import ApiError
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.faults.helpers.pod_spec import EXPERIMENT_NS_LABEL, HELPER_SELECTOR
from tests.e2e.faults import BANDWIDTH_PHASES, OPERATOR_NS, assert_nothing_left, example, figures, injected
from tests.support.system import root_qdisc, why_not
from tests.support.waits import wait_phase
from tests.support.workloads import deployment, pretty

REASON = why_not()
pytestmark = [pytest.mark.skipif(REASON is not None, reason=REASON or ""), pytest.mark.timeout(90)]
RESTRICTED = {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_a_network_fault_is_injected_into_a_restricted_tenant_namespace(box: Sandbox,
                                                                          operator: OperatorThread) -> None:
    ns = "e2e-restricted"
    box.emu.create("namespaces", {"metadata": {"name": ns, "labels": {pod_security.ENFORCE: "restricted"}}})
    # Enforced here: a privileged pod is refused in this namespace with the API server's message.
    with pytest.raises(ApiError, match=r'violates PodSecurity "restricted:latest": host namespaces \(hostPID=true\)'):
        box.emu.create("pods", {"metadata": {"name": "root"}, "spec": {"hostPID": True, "containers": [
            {"name": "c", "image": "x"}]}}, ns)
    # The target's own pods meet `restricted` (its template is hardened as a tenant's must be).
    docs = deployment(ns, "bulk", 1, args=["--latency-ms", "1"])
    template = docs[0]["spec"]["template"]["spec"]
    template["securityContext"] = RESTRICTED
    template["containers"][0]["securityContext"] = CONTAINER
    box.apply(docs)
    (target,) = box.wait_ready(ns, "bulk", 1)
    netns = box.pod_netns(ns, target["metadata"]["name"])
    assert netns is not None
    box.apply([example("web-bandwidth.yaml", ns, "bulk", phases=BANDWIDTH_PHASES)])
    (record,) = injected(box, ns, "web-bandwidth")
    assert root_qdisc(netns).startswith("tbf c4a0:")  # in the target's network namespace
    (helper,) = box.emu.list("pods", OPERATOR_NS, label_selector=HELPER_SELECTOR)
    assert helper["metadata"]["name"] == record["helperPod"]
    assert helper["metadata"]["labels"][EXPERIMENT_NS_LABEL] == ns and helper["spec"]["hostPID"] is True
    assert not box.emu.list("pods", ns, label_selector=HELPER_SELECTOR)  # nothing privileged in the tenant's
    st = wait_phase(box.emu, "web-bandwidth", ns=ns)
    print(f"\nNetworkBandwidth in a restricted namespace:\n{figures(st)}")
    assert st["phase"] == "Completed", pretty(st)
    assert all(r["state"] == "Recovered" for r in st["injections"]), pretty(st)
    assert_nothing_left(box, ns, {target["metadata"]["uid"]})
