"""`helm upgrade` with the real helm v4 CLI on a container change, both ways Helm writes (server-side apply,
its default, and `--server-side=false`: a three-way strategic merge patch), and on a chart version whose CRD
changed: what the stored objects become, as on a cluster."""

from __future__ import annotations

import pathlib
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_sandbox.emulator import Emulator, EmulatorThread

from tests.support.chart import CHART, ROOT, changed_chart
from tests.support.helm_cli import CRD, DEPLOY, INSTALL_HINT, NS, RELEASE, Helm, find_helm
from tests.support.kubectl import Kubectl

HELM = find_helm()
pytestmark = pytest.mark.skipif(HELM is None, reason=f"no helm v4 CLI: {INSTALL_HINT}")


@pytest.fixture()
def cluster(tmp_path: pathlib.Path) -> Iterator[tuple[Helm, Kubectl]]:
    assert HELM is not None
    with EmulatorThread(Emulator()) as emu:
        kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig")
        yield Helm(HELM, kubeconfig, tmp_path), Kubectl(kubeconfig, tmp_path)


def containers(kubectl: Kubectl) -> dict[str, dict[str, Any]]:
    stored = kubectl.json("get", DEPLOY, "-n", NS)
    assert "$setElementOrder" not in repr(stored) and "$patch" not in repr(stored) and "$retainKeys" not in repr(stored)
    return {c["name"]: c for c in stored["spec"]["template"]["spec"]["containers"]}


@pytest.mark.parametrize("server_side", ["true", "false"])
def test_upgrade_changes_the_operator_container_and_keeps_anothers(cluster: tuple[Helm, Kubectl],
                                                                   server_side: str) -> None:
    helm, kubectl = cluster
    mode = f"--server-side={server_side}"
    helm("install", RELEASE, str(CHART), "-n", NS, "--create-namespace", mode)
    before = containers(kubectl)["operator"]
    key = load_token_key(kubectl)
    # someone else adds a container (kubectl patch: a strategic merge patch by name)
    kubectl("patch", DEPLOY, "-n", NS, "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"debug","image":"busybox:1.36"}]}}}}')
    helm("upgrade", RELEASE, str(CHART), "-n", NS, mode, "--set", "image.tag=0.2.0",
         "--set", "allowedNamespaces={shop}")
    after = containers(kubectl)
    assert set(after) == {"operator", "debug"} and after["debug"]["image"] == "busybox:1.36"
    operator = after["operator"]
    assert operator["image"] == "chaos-operator:0.2.0" and before["image"] == "chaos-operator:0.1.0"
    assert operator["args"] == [*before["args"][:2], "--allow-namespace=shop", *before["args"][2:]]
    env = {e["name"]: e for e in operator["env"]}
    assert env["OPERATOR_IMAGE"]["value"] == "chaos-operator:0.2.0"
    assert [e["name"] for e in operator["env"]] == [e["name"] for e in before["env"]]  # order kept
    assert {k: v for k, v in operator.items() if k not in ("image", "args", "env")} == \
        {k: v for k, v in before.items() if k not in ("image", "args", "env")}  # nothing else lost
    # The load workers' token key is kept (the chart's lookup): an upgraded operator rejoins the running workers.
    assert load_token_key(kubectl) == key
    helm("rollback", RELEASE, "1", "-n", NS)
    assert containers(kubectl)["operator"]["args"] == before["args"]
    assert load_token_key(kubectl) == key


def load_token_key(kubectl: Kubectl) -> str:
    key = str(kubectl.json("get", "secret", f"{RELEASE}-chaos-operator-load-token", "-n", NS)["data"]["key"])
    assert len(key) >= 32, key
    return key


def columns(kubectl: Kubectl) -> list[str]:
    crd = kubectl.json("get", "crd", CRD)
    return [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]


@pytest.mark.parametrize("server_side", ["true", "false"])
def test_a_chart_version_with_a_changed_crd_upgrades_it(cluster: tuple[Helm, Kubectl], server_side: str,
                                                        tmp_path: pathlib.Path) -> None:
    # This chart keeps its CRD in templates/ (crds.install), so Helm upgrades it as any other object.
    helm, kubectl = cluster
    mode = f"--server-side={server_side}"
    helm("install", RELEASE, str(CHART), "-n", NS, "--create-namespace", mode)
    before = columns(kubectl)
    assert "Owner" not in before
    helm("upgrade", RELEASE, str(changed_chart(tmp_path)), "-n", NS, mode)
    assert columns(kubectl) == [*before, "Owner"]
    kubectl("create", "namespace", "demo")
    kubectl("apply", "-f", str(ROOT / "examples" / "demo" / "web-kill-one.yaml"))
    assert "OWNER" in kubectl("get", "cex", "-A")  # served with the new column at once
    crd = kubectl.json("get", "crd", CRD)
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert "owner" in crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    helm("rollback", RELEASE, "1", "-n", NS)
    assert columns(kubectl) == before


def test_a_crd_in_crds_dir_is_installed_but_never_upgraded(cluster: tuple[Helm, Kubectl],
                                                           tmp_path: pathlib.Path) -> None:
    # Helm's rule for crds/: created on install when missing, never changed by upgrade or rollback.
    helm, kubectl = cluster
    old, new = tmp_path / "old", changed_chart(tmp_path)
    shutil.copytree(CHART, old, symlinks=False)
    for chart in (old, new):
        (chart / "crds").mkdir()
        shutil.copy(chart / "files" / "crds" / "chaosoperator.dev_chaosexperiments.yaml", chart / "crds")
    helm("install", RELEASE, str(old), "-n", NS, "--create-namespace", "--set", "crds.install=false")
    before = columns(kubectl)
    helm("upgrade", RELEASE, str(new), "-n", NS, "--set", "crds.install=false")
    assert columns(kubectl) == before  # unchanged: Helm does not upgrade crds/
