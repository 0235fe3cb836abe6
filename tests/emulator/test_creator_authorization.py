"""Creator authorisation (issue 19): the chart's ValidatingAdmissionPolicy, installed by the real helm CLI into an
emulator that enforces RBAC, evaluated with CEL's `authorizer` for the requesting user. Two kubeconfig users
(impersonated by kubectl) apply the repository's examples with real `kubectl apply`: the one allowed to delete pods
and exec into them is admitted, the one who may only manage experiments is refused with the cluster's message."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from chaos_sandbox.emulator import Emulator, EmulatorThread

from tests.support.chart import CHART
from tests.support.helm_cli import INSTALL_HINT, Helm, find_helm
from tests.support.kubectl import Kubectl, run

HELM = find_helm()
pytestmark = pytest.mark.skipif(HELM is None, reason=f"no helm v4 CLI: {INSTALL_HINT}")
EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
NS, POLICY = "shop", "chaos-chaos-operator-creator-authorization"  # release "chaos"
EXPERIMENTS = {"apiGroups": ["chaosoperator.dev"], "resources": ["chaosexperiments"],
               "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}
FAULT_RIGHTS = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "delete"]},
                {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]


def denial(name: str, kind: str, needs: str, user: str) -> str:
    return (f'chaosexperiments.chaosoperator.dev "{name}" is forbidden: ValidatingAdmissionPolicy \'{POLICY}\' with '
            f"binding '{POLICY}' denied request: a {kind} experiment needs its creator to be allowed to {needs} in "
            f"namespace {NS}, and {user} is not")


@pytest.fixture()
def users(tmp_path: pathlib.Path) -> Iterator[tuple[Helm, pathlib.Path, pathlib.Path, EmulatorThread]]:
    """(helm, owner's kubeconfig, tester's kubeconfig): the owner may delete and exec into pods in shop, the
    tester may only manage experiments there."""
    assert HELM is not None
    with EmulatorThread(Emulator(authorization="RBAC")) as emu:
        admin = Kubectl(emu.write_kubeconfig(tmp_path / "admin"), tmp_path)
        helm = Helm(HELM, admin.kubeconfig, tmp_path)
        helm("install", "chaos", str(CHART), "-n", "chaos-system", "--create-namespace")
        admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        for who, rules in (("owner", [EXPERIMENTS, *FAULT_RIGHTS]), ("tester", [EXPERIMENTS])):
            admin.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                         "metadata": {"name": who, "namespace": NS}, "rules": rules},
                        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                         "metadata": {"name": who, "namespace": NS},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": who},
                         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": who}]})
        yield (helm, emu.write_kubeconfig(tmp_path / "owner", NS, user="owner"),
               emu.write_kubeconfig(tmp_path / "tester", NS, user="tester"), emu)


@pytest.mark.parametrize(("example", "name", "kind", "needs"), [
    ("pod-kill.yaml", "checkout-pod-kill", "PodKill", "delete pods"),
    ("network-latency.yaml", "payments-latency", "NetworkLatency", "create pods/exec"),
    ("cpu-stress.yaml", "search-cpu-stress", "CPUStress", "create pods/exec"),
])
def test_the_creator_needs_the_faults_own_permission(users: tuple[Helm, pathlib.Path, pathlib.Path, EmulatorThread],
                                                     example: str, name: str, kind: str, needs: str,
                                                     tmp_path: pathlib.Path) -> None:
    _, owner, tester, emu = users
    manifest = str(EXAMPLES / example)
    refused = run(tester, "apply", "-f", manifest)
    assert refused.returncode != 0
    assert f"Error from server (Forbidden): error when creating \"{manifest}\": {denial(name, kind, needs, 'tester')}" \
        in refused.stderr, refused.stderr
    assert emu.get("chaosexperiments", NS, name) is None
    assert run(tester, "auth", "can-i", "create", "chaosexperiments").stdout.strip() == "yes"  # RBAC alone admits

    Kubectl(owner, tmp_path)("apply", "-f", manifest)
    stored = emu.get("chaosexperiments", NS, name)
    assert stored is not None and stored["spec"]["fault"]["kind"] == kind
    # Updates that leave the fault and the target alone (the operator's own patches, an abort) are not checked.
    Kubectl(tester, tmp_path)("annotate", "cex", name, "team=checkout")
    Kubectl(tester, tmp_path)("patch", "cex", name, "--type=merge", "-p", '{"spec": {"abort": true}}')
    changed = run(tester, "patch", "cex", name, "--type=merge", "-p", '{"spec": {"target": {"mode": "all"}}}')
    assert changed.returncode != 0, changed.stderr
    assert f"Error from server (Forbidden): {denial(name, kind, needs, 'tester')}" in changed.stderr, changed.stderr


def test_switched_off_by_a_chart_value(users: tuple[Helm, pathlib.Path, pathlib.Path, EmulatorThread],
                                       tmp_path: pathlib.Path) -> None:
    helm, _, tester, emu = users
    helm("upgrade", "chaos", str(CHART), "-n", "chaos-system", "--set", "creatorAuthorization.enabled=false")
    assert emu.list("validatingadmissionpolicies") == [] and emu.list("validatingadmissionpolicybindings") == []
    Kubectl(tester, tmp_path)("apply", "-f", str(EXAMPLES / "pod-kill.yaml"))
    assert emu.get("chaosexperiments", NS, "checkout-pod-kill") is not None
