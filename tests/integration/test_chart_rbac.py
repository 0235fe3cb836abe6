"""The chart's RBAC proven by running: the real helm CLI installs the chart into an emulator that enforces RBAC,
and the real operator under kopf runs a PodKill with the chart's ServiceAccount token. The unmodified chart
completes it; the chart with the PodKill rule (delete pods) removed gets the API server's 403 on the kill, and the
experiment says so. tests/packaging/test_rbac.py stays the explanation of each rule (from the recorded calls)."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from chaos_sandbox.emulator import Emulator, EmulatorThread
from chaos_sandbox.emulator.replicas import ReplicaKeeper
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.models.crd import load_crd
from tests.integration.conftest import SHOP, experiment, replicas
from tests.support.chart import CHART, chart_without
from tests.support.harness import OPERATOR_TOKEN, StaticResolver
from tests.support.helm_cli import INSTALL_HINT, Helm, find_helm
from tests.support.waits import wait_phase

HELM = find_helm()
pytestmark = pytest.mark.skipif(HELM is None, reason=f"no helm v4 CLI: {INSTALL_HINT}")
RELEASE_NS, ACCOUNT = "chaos-system", "chaos-chaos-operator"  # the chart's ServiceAccount for release "chaos"
LABELS = {"app": "checkout"}


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    """As a cluster: RBAC enforced (overrides the integration tests' AlwaysAllow emulator)."""
    with EmulatorThread(Emulator(authorization="RBAC")) as emu:
        emu.register_crd(load_crd())
        yield emu


@pytest.fixture
def keeper(emulator: EmulatorThread) -> Iterator[ReplicaKeeper]:
    with replicas(emulator, LABELS, 3, start_delay=0.5) as keep:
        yield keep


def install(emu: EmulatorThread, chart: pathlib.Path, tmp_path: pathlib.Path) -> str:
    """helm install as the administrator; the token a cluster would mount into the operator's pod."""
    assert HELM is not None
    helm = Helm(HELM, emu.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path)
    helm("install", "chaos", str(chart), "-n", RELEASE_NS, "--create-namespace", "--set", "crds.install=false")
    assert emu.get("serviceaccounts", RELEASE_NS, ACCOUNT) is not None
    return emu.emulator.auth.issue_token(RELEASE_NS, ACCOUNT, OPERATOR_TOKEN)


def test_the_chart_rbac_runs_a_pod_kill(emulator: EmulatorThread, keeper: ReplicaKeeper, resolver: StaticResolver,
                                        tmp_path: pathlib.Path) -> None:
    token = install(emulator, CHART, tmp_path)
    with OperatorThread(emulator.url, resolver, token=token, operator_namespace=RELEASE_NS,
                        load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("kill-one", SHOP), SHOP)
        status = wait_phase(emulator, "kill-one")
    assert (status["phase"], status["verdict"]) == ("Completed", "Passed"), status
    assert [i["state"] for i in status["injections"]] == ["Recovered"]
    assert [c for c in emulator.emulator.calls if c.user == token and c.verb == "delete"]  # as the chart's account


def test_without_the_delete_rule_the_kill_is_refused_with_403(emulator: EmulatorThread, keeper: ReplicaKeeper,
                                                               resolver: StaticResolver,
                                                               tmp_path: pathlib.Path) -> None:
    token = install(emulator, chart_without(tmp_path), tmp_path)
    before = {p["metadata"]["uid"] for p in emulator.list("pods", SHOP)}
    with OperatorThread(emulator.url, resolver, token=token, operator_namespace=RELEASE_NS,
                        load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("kill-one", SHOP), SHOP)
        status = wait_phase(emulator, "kill-one")
    assert (status["phase"], status["reason"]) == ("Failed", "InjectionFailed"), status
    [injection] = status["injections"]
    assert injection["state"] == "Failed"
    # The operator's account of the kill carries the API server's answer: 403 and its message.
    assert injection["message"].startswith(f"could not delete pod {injection['target']}: (403)"), injection
    expected = (f'pods "{injection["target"]}" is forbidden: User "system:serviceaccount:{RELEASE_NS}:'
                f'{ACCOUNT}" cannot delete resource "pods" in API group "" in the namespace "{SHOP}"')
    assert expected in injection["message"], injection["message"]
    assert "HTTP response headers" not in injection["message"]  # the server's sentence, not the client's dump
    assert {p["metadata"]["uid"] for p in emulator.list("pods", SHOP)} == before  # nothing was killed
