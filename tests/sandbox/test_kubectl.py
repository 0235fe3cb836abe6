"""The real kubectl against a running sandbox: apply the demo workloads and an example, read them, delete."""

from __future__ import annotations

import pathlib
import shutil

import pytest
from chaos_sandbox.cluster import DEMO_DIR, Sandbox

from tests.support.kubectl import Kubectl, run
from tests.support.waits import wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def test_kubectl_apply_get_delete(sandbox: Sandbox, tmp_path: pathlib.Path) -> None:
    kc = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    kubectl = Kubectl(kc, tmp_path)
    kubectl("apply", "-f", str(DEMO_DIR / "workloads.yaml"))

    def ready_web() -> list[str]:
        pods = kubectl.json("get", "pods", "-n", "demo", "-l", "app=web")["items"]
        ready = [p["metadata"]["name"] for p in pods
                 if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
        return ready if len(ready) == 3 and len(pods) == 3 else []
    pods = wait_for("3 web pods Ready, seen by kubectl", ready_web, 20)

    kubectl("apply", "-f", str(DEMO_DIR / "web-kill-one.yaml"))
    cex = kubectl.json("get", "cex", "web-kill-one", "-n", "demo")
    assert cex["kind"] == "ChaosExperiment" and cex["spec"]["fault"] == {"kind": "PodKill", "gracePeriodSeconds": 0}
    assert cex["spec"]["target"]["selector"] == {"matchLabels": {"app": "web"}}
    kubectl("delete", "-f", str(DEMO_DIR / "web-kill-one.yaml"))
    gone = run(kc, "get", "cex", "web-kill-one", "-n", "demo")
    assert gone.returncode != 0 and "NotFound" in gone.stderr

    # kubectl delete waits until the pod is really gone: after its process stopped, not before.
    kubectl("delete", "pod", pods[0], "-n", "demo")
    assert sandbox.pod_pid("demo", pods[0]) is None
    assert pods[0] not in wait_for("a replacement", ready_web, 20)
    svc = kubectl.json("get", "svc", "web", "-n", "demo")
    assert svc["metadata"]["annotations"]["sandbox.chaosoperator.dev/proxy"].startswith("8080=127.0.0.1:")
