"""The load worker Job as Kubernetes sees it: `kubernetes-validate --strict` against its schemas, and its pod
template against Pod Security `restricted` (the sandbox's admission checks, the same that judge the chart's pods;
a privileged variant proves they can fail)."""

from __future__ import annotations

import copy
import pathlib
import subprocess
import sys
from typing import Any

import pytest
import yaml
from chaos_sandbox.emulator import pod_security

from chaos_operator.loadworker.job import job_manifest, network_policy
from chaos_operator.models.spec import ExperimentSpec
from tests.support.manifests import base_manifest

UID = "0f1e2d3c-0000-4000-8000-000000000001"
K8S_VERSIONS = ("1.28.0", "1.33.0")  # the chart's minimum (Chart.yaml kubeVersion) and a recent one, as its tests
VALIDATE = pathlib.Path(sys.executable).parent / "kubernetes-validate"


def kubernetes_validate(path: pathlib.Path, version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VALIDATE), "--strict", "-k", version, str(path)], capture_output=True, text=True,
                          timeout=120, check=False)


def _job() -> dict[str, Any]:
    doc = base_manifest()["spec"]
    doc["load"] = {"service": {"name": "orders", "port": 8443}, "method": "POST", "workers": 3,
                   "bodyFrom": {"name": "bodies", "key": "order.json"},
                   "auth": {"bearerToken": {"name": "tok", "key": "token"}},
                   "tls": {"caBundle": {"name": "ca", "key": "ca.crt"}}}
    return job_manifest(ExperimentSpec.model_validate(doc), "orders-kill", "shop", UID, "chaos-operator:1", 240.0)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_job_and_its_network_policy_are_valid_for_kubernetes(version: str, tmp_path: pathlib.Path) -> None:
    for name, doc in (("job", _job()), ("policy", network_policy("orders-kill", "shop", UID, "chaos-system"))):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc))
        result = kubernetes_validate(path, version)
        assert result.returncode == 0 and " passed for resource " in result.stdout, result.stdout + result.stderr


def test_the_job_is_rejected_when_a_field_is_misplaced(tmp_path: pathlib.Path) -> None:
    job = copy.deepcopy(_job())
    job["spec"]["template"]["spec"]["backoffLimit"] = 0  # belongs to the Job spec
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    assert kubernetes_validate(path, K8S_VERSIONS[-1]).returncode != 0


def test_the_pods_pass_pod_security_restricted() -> None:
    template = _job()["spec"]["template"]
    pod = {"metadata": {"name": "orders-kill-load-0"}, "spec": template["spec"]}
    assert pod_security.violations(pod, {pod_security.ENFORCE: "restricted"}) is None
    worse = copy.deepcopy(pod)
    worse["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    assert "allowPrivilegeEscalation" in (pod_security.violations(worse, {pod_security.ENFORCE: "restricted"}) or "")
