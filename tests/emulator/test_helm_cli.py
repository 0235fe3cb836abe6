"""The chart's whole Helm lifecycle with the real helm v4 CLI and Helm's defaults (server-side apply, Secret
storage, protobuf from its typed client) against the emulator, as a user types it."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator

import pytest
from chaos_sandbox.emulator import Emulator, EmulatorThread

from chaos_operator.models.crd import load_crd
from tests.support.chart import CHART
from tests.support.helm_cli import CRD, DEPLOY, INSTALL_HINT, NS, RELEASE, Helm, find_helm
from tests.support.kubectl import Kubectl

HELM = find_helm()
pytestmark = pytest.mark.skipif(HELM is None, reason=f"no helm v4 CLI: {INSTALL_HINT}")


@pytest.fixture()
def cluster(tmp_path: pathlib.Path) -> Iterator[tuple[Helm, Kubectl, EmulatorThread]]:
    assert HELM is not None
    # validating, RBAC enforced (helm runs as the administrator), and no CRD yet: the chart installs it
    with EmulatorThread(Emulator(authorization="RBAC")) as emu:
        kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig")
        yield Helm(HELM, kubeconfig, tmp_path), Kubectl(kubeconfig, tmp_path), emu


def names(kubectl: Kubectl, kinds: str, namespace: str | None = None) -> set[str]:
    where = ["-n", namespace] if namespace else ["-A"]
    return {f'{o["kind"]}/{o["metadata"]["name"]}' for o in kubectl.json("get", kinds, *where)["items"]}


def test_install_upgrade_rollback_uninstall(cluster: tuple[Helm, Kubectl, EmulatorThread]) -> None:
    helm, kubectl, emu = cluster
    helm("install", RELEASE, str(CHART), "-n", NS, "--create-namespace")
    deploy = kubectl.json("get", DEPLOY, "-n", NS, "--show-managed-fields")
    assert deploy["spec"]["replicas"] == 1
    assert [(e["manager"], e["operation"]) for e in deploy["metadata"]["managedFields"]] == [("helm", "Apply")]
    assert "STATUS: deployed" in helm("status", RELEASE, "-n", NS)
    assert kubectl("get", "crd", CRD)  # installed by the chart, and served
    assert "Service/chaos-chaos-operator-metrics" in names(kubectl, "svc", NS)

    helm("upgrade", RELEASE, str(CHART), "-n", NS, "--set", "replicaCount=2", "--set", "metrics.service.enabled=false")
    assert kubectl.json("get", DEPLOY, "-n", NS)["spec"]["replicas"] == 2
    assert "Service/chaos-chaos-operator-metrics" not in names(kubectl, "svc", NS)
    history = json.loads(helm("history", RELEASE, "-n", NS, "-o", "json"))
    assert [(r["revision"], r["status"]) for r in history] == [(1, "superseded"), (2, "deployed")]

    helm("rollback", RELEASE, "1", "-n", NS)
    assert kubectl.json("get", DEPLOY, "-n", NS)["spec"]["replicas"] == 1
    assert "Service/chaos-chaos-operator-metrics" in names(kubectl, "svc", NS)
    history = json.loads(helm("history", RELEASE, "-n", NS, "-o", "json"))
    assert [r["status"] for r in history] == ["superseded", "superseded", "deployed"]

    out = helm("uninstall", RELEASE, "-n", NS)
    assert CRD in out  # "kept due to the resource policy"
    left = names(kubectl, "all,secrets,configmaps,serviceaccounts,roles,rolebindings,cronjobs")
    assert left == set(), left
    assert not [o for o in kubectl.json("get", "clusterroles,clusterrolebindings")["items"]
                if RELEASE in o["metadata"]["name"]]
    assert kubectl("get", "crd", CRD)  # kept on purpose (crds.keep), and with it every experiment
    print("\n" + "  ".join(f"helm {verb}: {seconds:.2f} s" for verb, seconds in helm.durations))


def test_a_conflicting_change_is_refused_until_forced(cluster: tuple[Helm, Kubectl, EmulatorThread]) -> None:
    helm, kubectl, _ = cluster
    helm("install", RELEASE, str(CHART), "-n", NS, "--create-namespace")
    # another field manager (kubectl-patch) now owns spec.replicas
    kubectl("patch", DEPLOY, "-n", NS, "--type=merge", "-p", '{"spec": {"replicas": 3}}')
    refused = helm.run("upgrade", RELEASE, str(CHART), "-n", NS, "--set", "replicaCount=2")
    assert refused.returncode != 0
    assert "conflict" in refused.stderr and ".spec.replicas" in refused.stderr, refused.stderr
    helm("upgrade", RELEASE, str(CHART), "-n", NS, "--set", "replicaCount=2", "--force-conflicts")
    assert kubectl.json("get", DEPLOY, "-n", NS)["spec"]["replicas"] == 2


def test_with_the_crd_already_there_the_chart_installs_without_it(
        cluster: tuple[Helm, Kubectl, EmulatorThread]) -> None:
    helm, kubectl, emu = cluster
    emu.register_crd(load_crd())  # as the sandbox does: no Helm ownership labels
    refused = helm.run("install", RELEASE, str(CHART), "-n", NS, "--create-namespace")
    assert refused.returncode != 0 and "cannot be imported into the current release" in refused.stderr
    helm("install", RELEASE, str(CHART), "-n", NS, "--create-namespace", "--set", "crds.install=false")
    helm("uninstall", RELEASE, "-n", NS)
    assert kubectl("get", "crd", CRD)  # never the release's
