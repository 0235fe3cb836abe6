"""The real kubectl against the emulator: discovery, get, apply (create and configure), delete."""

from __future__ import annotations

import pathlib
import shutil
from typing import Any

import pytest
from chaos_sandbox.emulator import EmulatorThread

from tests.support.kubectl import Kubectl, kubectl_in

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
NS = "demo"


@pytest.fixture()
def kubectl(emulator: EmulatorThread, tmp_path: pathlib.Path) -> Kubectl:
    return kubectl_in(emulator, tmp_path, NS)


def experiment(abort: bool) -> dict[str, Any]:
    return {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
            "metadata": {"name": "e1", "namespace": NS}, "spec": {"abort": abort}}


def test_get_pods_with_selectors(kubectl: Kubectl, emulator: EmulatorThread) -> None:
    for name, app, phase in (("web-1", "web", "Running"), ("web-2", "web", "Pending"), ("db-1", "db", "Running")):
        emulator.create("pods", {"metadata": {"name": name, "labels": {"app": app}}, "spec": {"containers": []}}, NS)
        emulator.patch("pods", NS, name, {"status": {"phase": phase}}, subresource="status")
    emulator.create("pods", {"metadata": {"name": "web-x", "labels": {"app": "web"}}, "spec": {}}, "other")

    def names(*args: str) -> list[str]:
        return [item["metadata"]["name"] for item in kubectl.json("get", "pods", "-n", NS, *args)["items"]]

    assert names() == ["db-1", "web-1", "web-2"]
    assert names("-l", "app=web") == ["web-1", "web-2"]
    assert names("-l", "app in (web),app!=db", "--field-selector", "status.phase=Running") == ["web-1"]
    assert "web-1" in kubectl("get", "po", "-n", NS)  # the table form falls back to names and ages


def test_apply_creates_then_configures(kubectl: Kubectl, emulator: EmulatorThread) -> None:
    assert "created" in kubectl.apply(experiment(abort=False))
    assert "configured" in kubectl.apply(experiment(abort=True))
    stored = kubectl.json("get", "cex", "e1", "-n", NS)
    assert stored["spec"] == {"abort": True} and stored["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored["metadata"]["annotations"]


def test_apply_crd_registers_its_resource(kubectl: Kubectl) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    kubectl.apply(crd)
    kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=5s")
    kubectl.apply({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": NS}})
    assert [item["metadata"]["name"] for item in kubectl.json("get", "wd", "-n", NS)["items"]] == ["w"]


def test_delete(kubectl: Kubectl, emulator: EmulatorThread) -> None:
    emulator.create("pods", {"metadata": {"name": "p"}, "spec": {"containers": []}}, NS)
    kubectl("delete", "pod", "p", "-n", NS)
    assert emulator.get("pods", NS, "p") is None

    emulator.create("chaosexperiments", {**experiment(False), "metadata": {"name": "e1", "finalizers": ["x/y"]}}, NS)
    kubectl("delete", "cex", "e1", "-n", NS, "--wait=false")
    held = emulator.get("chaosexperiments", NS, "e1")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    emulator.patch("chaosexperiments", NS, "e1", {"metadata": {"finalizers": None}})
    assert emulator.get("chaosexperiments", NS, "e1") is None
