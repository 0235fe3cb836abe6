"""Real kubectl against the emulator on a container change: client-side apply (a strategic merge patch with
`$setElementOrder`), `kubectl diff`, `kubectl patch` and server-side apply give what a cluster gives."""

from __future__ import annotations

import pathlib
import shutil
from typing import Any

import pytest
import yaml
from chaos_sandbox.emulator import EmulatorThread

from tests.support.kubectl import Kubectl, kubectl_in, run

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
NS = "demo"


@pytest.fixture()
def kubectl(emulator: EmulatorThread, tmp_path: pathlib.Path) -> Kubectl:
    return kubectl_in(emulator, tmp_path, NS)


def deployment(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": list(containers)}}}}


WEB = {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
       "env": [{"name": "MODE", "value": "a"}]}
SIDE = {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "3600"]}


def manifest(kubectl: Kubectl, obj: dict[str, Any]) -> str:
    path = kubectl.home / "manifest.yaml"
    path.write_text(yaml.safe_dump(obj))
    return str(path)


def containers(kubectl: Kubectl) -> list[dict[str, Any]]:
    stored = kubectl.json("get", "deploy", "web", "-n", NS)
    assert "$setElementOrder" not in repr(stored) and "$patch" not in repr(stored)
    return list(stored["spec"]["template"]["spec"]["containers"])


def test_client_side_apply_merges_containers_by_name(kubectl: Kubectl) -> None:
    kubectl.apply(deployment(WEB))
    kubectl.apply(deployment(SIDE, {**WEB, "image": "nginx:1.27"}))  # an image changed, a container added first
    assert containers(kubectl) == [SIDE, {**WEB, "image": "nginx:1.27"}]
    kubectl.apply(deployment({**WEB, "image": "nginx:1.27"}))  # the sidecar dropped: kubectl sends $patch: delete
    assert containers(kubectl) == [{**WEB, "image": "nginx:1.27"}]


def test_client_side_apply_keeps_a_container_someone_else_added(kubectl: Kubectl) -> None:
    kubectl.apply(deployment(WEB))
    kubectl("patch", "deploy", "web", "-n", NS, "-p", '{"spec":{"template":{"spec":{"containers":'
            '[{"name":"debug","image":"busybox"}]}}}}')  # a strategic merge patch: one container added
    assert [c["name"] for c in containers(kubectl)] == ["web", "debug"]
    kubectl.apply(deployment({**WEB, "env": [{"name": "MODE", "value": "b"}]}))
    assert containers(kubectl) == [{**WEB, "env": [{"name": "MODE", "value": "b"}]},
                                   {"name": "debug", "image": "busybox"}]


def test_diff_shows_only_the_intended_change(kubectl: Kubectl) -> None:
    kubectl.apply(deployment(WEB, SIDE))
    path = manifest(kubectl, deployment({**WEB, "image": "nginx:1.27"}, SIDE))
    done = run(kubectl.kubeconfig, "diff", "-f", path, home=kubectl.home)
    assert done.returncode == 1, done.stderr  # 1: there are differences
    changed = [line for line in done.stdout.splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---")) and "generation" not in line]
    assert changed == ["-        image: nginx:1.25", "+        image: nginx:1.27"], done.stdout
    path = manifest(kubectl, deployment(WEB, SIDE))
    assert run(kubectl.kubeconfig, "diff", "-f", path, home=kubectl.home).returncode == 0  # nothing to change


def test_server_side_apply_changes_one_container(kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "-f", manifest(kubectl, deployment(WEB, SIDE)))
    kubectl("apply", "--server-side", "-f", manifest(kubectl, deployment({**WEB, "image": "nginx:1.27"}, SIDE)))
    assert containers(kubectl) == [{**WEB, "image": "nginx:1.27"}, SIDE]
    kubectl("apply", "--server-side", "-f", manifest(kubectl, deployment(WEB)))  # the sidecar no longer applied
    assert containers(kubectl) == [WEB]


def test_strategic_merge_patch_of_a_custom_resource_is_refused(kubectl: Kubectl) -> None:
    experiment = {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
                  "metadata": {"name": "e1", "namespace": NS}, "spec": {"abort": False}}
    kubectl.apply(experiment)
    done = run(kubectl.kubeconfig, "patch", "cex", "e1", "-n", NS, "--type", "strategic", "-p",
               '{"spec":{"abort":true}}', home=kubectl.home)
    assert done.returncode != 0
    assert ("application/strategic-merge-patch+json is not supported by chaosoperator.dev/v1alpha1, "
            "Kind=ChaosExperiment: the body of the request was in an unknown format") in done.stderr
    kubectl("patch", "cex", "e1", "-n", NS, "--type", "merge", "-p", '{"spec":{"abort":true}}')
    assert kubectl.json("get", "cex", "e1", "-n", NS)["spec"]["abort"] is True
