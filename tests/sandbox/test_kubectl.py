"""The real kubectl against a running sandbox: apply the demo workloads and an example, read them, delete."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
from typing import Any

import pytest
from chaos_sandbox.cluster import DEMO_DIR, Sandbox

from tests.waits import wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def kubectl(kubeconfig: pathlib.Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # Always the sandbox's kubeconfig, and a HOME of its own: no other cluster is ever asked.
    argv = ["kubectl", "--kubeconfig", str(kubeconfig), "--request-timeout=10s", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(kubeconfig.parent)})
    if check:
        assert done.returncode == 0, f"{argv}: {done.stderr}"
    return done


def as_json(kubeconfig: pathlib.Path, *args: str) -> Any:
    return json.loads(kubectl(kubeconfig, *args, "-o", "json").stdout)


def test_kubectl_apply_get_delete(sandbox: Sandbox, tmp_path: pathlib.Path) -> None:
    kc = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    kubectl(kc, "apply", "-f", str(DEMO_DIR / "workloads.yaml"))

    def ready_web() -> list[str]:
        pods = as_json(kc, "get", "pods", "-n", "demo", "-l", "app=web")["items"]
        ready = [p["metadata"]["name"] for p in pods
                 if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
        return ready if len(ready) == 3 and len(pods) == 3 else []
    pods = wait_for("3 web pods Ready, seen by kubectl", ready_web, 20)

    kubectl(kc, "apply", "-f", str(DEMO_DIR / "web-kill-one.yaml"))
    cex = as_json(kc, "get", "cex", "web-kill-one", "-n", "demo")
    assert cex["kind"] == "ChaosExperiment" and cex["spec"]["fault"] == {"kind": "PodKill", "gracePeriodSeconds": 0}
    assert cex["spec"]["target"]["selector"] == {"matchLabels": {"app": "web"}}
    kubectl(kc, "delete", "-f", str(DEMO_DIR / "web-kill-one.yaml"))
    gone = kubectl(kc, "get", "cex", "web-kill-one", "-n", "demo", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr

    # kubectl delete waits until the pod is really gone: after its process stopped, not before.
    kubectl(kc, "delete", "pod", pods[0], "-n", "demo")
    assert sandbox.pod_pid("demo", pods[0]) is None
    assert pods[0] not in wait_for("a replacement", ready_web, 20)
    svc = as_json(kc, "get", "svc", "web", "-n", "demo")
    assert svc["metadata"]["annotations"]["sandbox.chaosoperator.dev/proxy"].startswith("8080=127.0.0.1:")
