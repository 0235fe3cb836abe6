"""How the node runs the chart's operator Deployment pod in-cluster (node/incluster.py, node/commandpods.py), and the
emulator's HTTPS endpoint those pods use (emulator/tls.py)."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from typing import Any

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.node import commandpods, incluster
from chaos_sandbox.node.proxy import ServiceProxy, cluster_ip, hosts_entries

from tests.support.chart import one, render

API = incluster.ApiEndpoint("127.0.0.1", 6443, b"-----BEGIN CERTIFICATE-----\n")


OBJECTS = render({"replicaCount": 2})
# The pod mounts the chart's load-token Secret (load.runner: workers, the default), as the kubelet would find it.
SECRETS = {secret["metadata"]["name"]: secret for secret in OBJECTS if secret["kind"] == "Secret"}


def operator_pod() -> dict[str, Any]:
    template = one(OBJECTS, "Deployment")["spec"]["template"]
    return {"metadata": {**template["metadata"], "name": "op-1", "namespace": "chaos-system", "uid": "u1"},
            "spec": template["spec"]}


def test_the_charts_operator_pod_is_planned_in_cluster_on_a_port_of_its_own(tmp_path: pathlib.Path) -> None:
    plan = commandpods.plan(operator_pod(), tmp_path, "http://127.0.0.1:1", {}, "tok", API, secrets=SECRETS)
    assert plan.argv[:2] == [str(commandpods.PROGRAMS["chaos-operator"]), "run"]
    assert "--operator-namespace=chaos-system" in plan.argv and "--leader-election" in plan.argv
    port = next(int(a.split("=")[1]) for a in plan.argv if a.startswith("--metrics-port="))
    assert port != 8080 and plan.readiness is not None and plan.readiness.port == port
    assert (plan.readiness.path, plan.readiness.period_s) == ("/readyz", 5.0)
    assert plan.env["POD_NAME"] == "op-1" and plan.env["POD_NAMESPACE"] == "chaos-system"
    assert (plan.env["KUBERNETES_SERVICE_HOST"], plan.env["KUBERNETES_SERVICE_PORT"]) == ("127.0.0.1", "6443")
    assert plan.account_files == {"token": "tok", "ca.crt": API.ca_pem.decode(), "namespace": "chaos-system"}
    assert plan.restart_policy == "Always"
    assert any(a.startswith("--load-token-key-file=") for a in plan.argv)  # the mounted key
    other = commandpods.plan(operator_pod(), tmp_path / "2", "http://127.0.0.1:1", {}, "tok", API, secrets=SECRETS)
    assert other.readiness is not None and other.readiness.port != port  # two replicas, two ports


def test_a_pod_without_automounted_token_gets_none(tmp_path: pathlib.Path) -> None:
    """`automountServiceAccountToken: false` (the load workers' pods): still in-cluster (Services by name), but
    no token mounted and none in its kubeconfig, as a kubelet would mount none."""
    pod = operator_pod()
    pod["spec"] = {**pod["spec"], "automountServiceAccountToken": False}
    plan = commandpods.plan(pod, tmp_path, "http://127.0.0.1:1", {}, "tok", API, secrets=SECRETS)
    assert plan.in_cluster and plan.account_files == {} and "tok" not in plan.kubeconfig
    assert plan.env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"  # a kubelet sets these all the same


def test_the_process_gets_its_own_mount_namespace() -> None:
    argv = incluster.mounted(["/bin/chaos-operator", "run"])
    assert argv[:4] == ["unshare", "--mount", "--propagation", "private"] and argv[-2:] == ["/bin/chaos-operator",
                                                                                          "run"]
    assert incluster.SERVICE_ACCOUNT_DIR.replace("/var/run", "/run") in argv[argv.index("-c") + 1]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)")
@pytest.mark.parametrize("under_run", [False, True], ids=["elsewhere", "under-run"])
def test_the_pods_own_files_stay_at_their_path_in_its_mount_namespace(under_run: bool, tmp_path: pathlib.Path) -> None:
    """A real process: its files by absolute path and its ServiceAccount token at the in-cluster path, also when the
    pod's directory is under /run, which the namespace mounts afresh (the kernel VM tier's TMPDIR is /run)."""
    pod = pathlib.Path(tempfile.mkdtemp(dir="/run" if under_run else tmp_path, prefix="csbx-test-pod-"))
    try:
        (pod / "hosts").write_text("127.0.0.1 localhost\n")
        incluster.write_files(pod / "serviceaccount", {"token": "tok", "ca.crt": "ca", "namespace": "ns"})
        (pod / "volumes").mkdir()
        (pod / "volumes" / "config.json").write_text("{}")
        script = f"cat {pod}/volumes/config.json {incluster.SERVICE_ACCOUNT_DIR}/token"
        done = subprocess.run(incluster.mounted(["/bin/sh", "-c", script]), cwd=pod, capture_output=True, text=True,
                              timeout=30, check=False)
        assert (done.returncode, done.stdout, done.stderr) == (0, "{}tok", "")
        shutil.rmtree(pod / "serviceaccount")  # automountServiceAccountToken: false
        script = f"cat {pod}/volumes/config.json; test ! -e {incluster.SERVICE_ACCOUNT_DIR}"
        done = subprocess.run(incluster.mounted(["/bin/sh", "-c", script]), cwd=pod, capture_output=True, text=True,
                              timeout=30, check=False)
        assert (done.returncode, done.stdout, done.stderr) == (0, "{}", "")
    finally:
        shutil.rmtree(pod)


@pytest.mark.parametrize(("arg", "expected"), [("--metrics-port=8080", "--metrics-port=9"), ("8080", "9"),
                                               ("--x=80801", "--x=80801"), ("--level=8080x", "--level=8080x")])
def test_an_argument_naming_a_container_port_is_rewritten(arg: str, expected: str) -> None:
    assert incluster.rewrite_port(arg, {8080: 9}) == expected


async def test_services_are_named_at_their_cluster_ip_on_their_port() -> None:
    async def dial(host: str, port: int) -> Any:
        raise OSError("unused")
    proxy = ServiceProxy(("shop", "checkout", 18080), dial)
    try:
        address = proxy.cluster_address
        assert address == (cluster_ip(("shop", "checkout", 1)), 18080)  # the Service's ports share one address
        assert hosts_entries({proxy.key: proxy}) == f"{address[0]} checkout.shop.svc checkout.shop.svc.cluster.local\n"
    finally:
        await proxy.close()


async def test_two_runs_name_the_same_service_at_two_cluster_ips() -> None:
    # Two sandboxes on one machine (a test beside `sandbox up`) both have demo/web:8080; each run's pods must
    # reach its own. Unsalted, the second could not listen and its pods found no `web.demo.svc`.
    async def dial(host: str, port: int) -> Any:
        raise OSError("unused")
    proxies = [ServiceProxy(("demo", "web", 18081), dial, salt=run) for run in ("run1", "run2")]
    try:
        addresses = [p.cluster_address for p in proxies]
        assert None not in addresses and addresses[0] != addresses[1], addresses
    finally:
        for proxy in proxies:
            await proxy.close()


def test_the_https_endpoint_is_verified_with_the_runs_ca(tmp_path: pathlib.Path) -> None:
    with EmulatorThread(tls=True) as emu:
        assert emu.serving_cert is not None
        url = f"https://127.0.0.1:{emu.https_port}/version"
        context = ssl.create_default_context(cadata=emu.serving_cert.ca_pem.decode())
        with urllib.request.urlopen(url, context=context, timeout=10) as answer:  # nosec B310: a fixed https URL
            assert json.load(answer)["gitVersion"]
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(url, context=ssl.create_default_context(), timeout=10)  # nosec B310
