"""Every object the chart renders, checked by real tools: `kubernetes-validate --strict` against Kubernetes'
own schemas for a pinned version, and real `kubectl apply` to the sandbox's API server (install, re-apply,
upgrade), after which the operator's CRD serves experiments."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml
from chaos_sandbox.emulator import EmulatorThread

from tests.support.chart import NAMESPACE, NAMESPACED, ROOT, render, schedule_values
from tests.support.kubectl import Kubectl

K8S_VERSIONS = ("1.28.0", "1.33.0")  # the chart's minimum (Chart.yaml kubeVersion) and a recent one
EVERYTHING = {"metrics": {"serviceMonitor": {"enabled": True}}, "grafanaDashboard": {"enabled": True},
              "requireNamespaceOptIn": True, **schedule_values()}
MODES = {"cluster-wide": {}, "namespaced": NAMESPACED, "everything": EVERYTHING}
VALIDATE = pathlib.Path(sys.executable).parent / "kubernetes-validate"


def kubernetes_validate(path: pathlib.Path, version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VALIDATE), "--strict", "-k", version, str(path)], capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("mode", MODES)
def test_every_rendered_object_is_valid_for_kubernetes(mode: str, version: str, tmp_path: pathlib.Path) -> None:
    # The creator-authorisation policy is admissionregistration.k8s.io/v1 (Kubernetes >= 1.30): on an older cluster
    # the chart is installed with it off (values.yaml says so), and the install fails rather than skip it.
    off = {"creatorAuthorization": {"enabled": False}} if version < "1.30" else {}
    objects = render({**MODES[mode], **off})
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    result = kubernetes_validate(path, version)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = [line for line in result.stdout.splitlines() if " passed for resource " in line]
    warned = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("WARN")]
    # ServiceMonitor is a prometheus-operator CRD: Kubernetes' schemas do not know it, so it is only
    # warned about; test_chart_render checks its fields and kubectl applies it below (as a custom resource).
    assert all("kind ServiceMonitor" in line for line in warned), warned
    assert len(passed) + len(warned) == len(objects)
    assert len(passed) == sum(o["kind"] != "ServiceMonitor" for o in objects)


def test_strict_validation_does_catch_a_misplaced_field(tmp_path: pathlib.Path) -> None:
    """The control: the same tool, same flags, refuses a Deployment with a field in the wrong place."""
    deployment = next(o for o in render() if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFilesystem"] = True
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(deployment))
    result = kubernetes_validate(path, K8S_VERSIONS[0])
    assert result.returncode != 0 and "readOnlyRootFilesystem" in result.stdout + result.stderr


SERVICE_MONITOR_CRD = {
    # Stands in for prometheus-operator's CRD: the sandbox stores ServiceMonitors like any custom resource.
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
             "names": {"plural": "servicemonitors", "singular": "servicemonitor", "kind": "ServiceMonitor",
                       "listKind": "ServiceMonitorList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
}


@pytest.fixture
def kubectl(tmp_path: pathlib.Path) -> Iterator[tuple[Kubectl, EmulatorThread]]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    with EmulatorThread() as emu:
        for ns in (NAMESPACE, "shop", "payments"):
            emu.create("namespaces", {"metadata": {"name": ns}})
        emu.register_crd(SERVICE_MONITOR_CRD)
        yield Kubectl(emu.write_kubeconfig(tmp_path / "kubeconfig", NAMESPACE), tmp_path), emu


def test_kubectl_applies_install_and_upgrade(kubectl: tuple[Kubectl, EmulatorThread]) -> None:
    run, emu = kubectl
    objects = render(EVERYTHING)
    created = run.apply(*objects).splitlines()
    assert len(created) == len(objects) and all(line.endswith(" created") for line in created), created
    assert all(line.endswith(" unchanged") for line in run.apply(*objects).splitlines())
    upgraded = run.apply(*render({**EVERYTHING, "replicaCount": 2, "logFormat": "json"})).splitlines()
    # An offline render has no cluster to look the load-token key up in, so it generates a new one; `helm upgrade`
    # finds and keeps it (templates/load-token.yaml). Nothing else changes.
    assert sorted(line for line in upgraded if line.endswith(" configured")) == [
        "deployment.apps/chaos-operator configured", "secret/chaos-operator-load-token configured"]
    deployment = json.loads(run("get", "deployment", "chaos-operator", "-o", "json"))
    assert deployment["spec"]["replicas"] == 2
    assert "--log-format=json" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    cronjob = json.loads(run("get", "cronjob", "chaos-operator-weekly-checkout-kill", "-o", "json"))
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid" and cronjob["spec"]["timeZone"] == "Europe/Berlin"
    assert emu.get("roles", "shop", "chaos-operator-weekly-checkout-kill") is not None
    # The CRD the chart installed serves experiments: an example applies and reads back.
    run("apply", "-n", "shop", "-f", str(ROOT / "examples" / "pod-kill.yaml"))
    assert json.loads(run("get", "chaosexperiments", "-n", "shop", "-o", "json"))["items"][0]["metadata"]["name"] \
        == "checkout-pod-kill"
