"""The demo service as the load's real target: HTTPS with a CA made by the test, a header every request must
carry, JSON bodies; in the sandbox from a `kubernetes.io/tls` Secret, probed over HTTPS, reached through its
Service's proxy with the Service's name checked against the certificate."""

from __future__ import annotations

import base64
import json
import pathlib
import ssl
import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import pytest
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.node.podprocess import http_status

from tests.support.tls import make_ca_and_server
from tests.support.waits import wait_for
from tests.support.workloads import deployment

NS = "shop"
TOKEN = "Bearer s3cret"
NAME = "web.shop.svc"  # the name the certificate is for


@pytest.fixture
def tls_files(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """(CA bundle, server certificate, server key) for NAME."""
    ca, _ = make_ca_and_server(tmp_path, NAME)
    return ca, tmp_path / "srv.crt", tmp_path / "srv.key"


@pytest.fixture
def app(tls_files: tuple[pathlib.Path, pathlib.Path, pathlib.Path]) -> Iterator[int]:
    _, crt, key = tls_files
    argv = [sys.executable, "-m", "chaos_sandbox.demo_app", "--max-seconds", "60", "--pod", "p-1",
            "--tls-cert", str(crt), "--tls-key", str(key), "--require-header", f"Authorization={TOKEN}",
            "--require-json"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield int(json.loads(proc.stdout.readline())["listening"].rpartition(":")[2])
    finally:
        proc.kill()
        proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


async def answers(port: int, ca: pathlib.Path, *requests: tuple[str, str, dict[str, str], bytes | None]) -> list[int]:
    """Status codes of (method, path, headers, body) requests over HTTPS to 127.0.0.1:port, verifying NAME."""
    context = ssl.create_default_context(cafile=str(ca))
    codes = []
    async with aiohttp.ClientSession() as session:
        for method, path, headers, body in requests:
            async with session.request(method, f"https://127.0.0.1:{port}{path}", headers=headers, data=body,
                                       ssl=context, server_hostname=NAME) as response:
                codes.append(response.status)
    return codes


async def test_https_with_a_required_token_and_json_bodies(
        app: int, tls_files: tuple[pathlib.Path, pathlib.Path, pathlib.Path]) -> None:
    ca = tls_files[0]
    auth = {"Authorization": TOKEN}
    assert await answers(app, ca, ("POST", "/orders", auth, b'{"item": "book"}'), ("GET", "/", auth, None),
                         ("POST", "/orders", {}, b'{"item": "book"}'), ("POST", "/orders", auth, b"not json"),
                         ("GET", "/ready", {}, None)) == [200, 200, 401, 400, 200]
    assert await http_status("127.0.0.1", app, "/ready", tls=True) == 200  # a kubelet's unverified probe
    assert await http_status("127.0.0.1", app, "/ready") is None  # plain HTTP gets no HTTP answer


def tls_secret(name: str, crt: pathlib.Path, key: pathlib.Path) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": NS},
            "data": {"tls.crt": base64.b64encode(crt.read_bytes()).decode(),
                     "tls.key": base64.b64encode(key.read_bytes()).decode()}}


def https_deployment(app: str, secret: str) -> list[dict[str, object]]:
    objs = deployment(NS, app, 1, args=["--tls-secret", secret, "--require-header", f"Authorization={TOKEN}"])
    objs[0]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["scheme"] = "HTTPS"
    return objs


async def test_a_demo_pod_serves_https_from_its_tls_secret(
        sandbox: Sandbox, tls_files: tuple[pathlib.Path, pathlib.Path, pathlib.Path]) -> None:
    ca, crt, key = tls_files
    sandbox.apply([tls_secret("web-tls", crt, key), *https_deployment("web", "web-tls")])
    [pod] = sandbox.wait_ready(NS, "web", 1)  # Ready by its HTTPS probe
    url = sandbox.resolver.urls()[(NS, "web", 8080)]
    assert url.startswith("http://127.0.0.1:")  # the Service's proxy on loopback: TCP, TLS end to end
    port = int(url.rpartition(":")[2])
    assert await answers(port, ca, ("POST", "/x", {"Authorization": TOKEN}, b"{}"),
                         ("GET", "/x", {}, None)) == [200, 401]
    assert not list(pathlib.Path("/tmp").glob("chaos-sandbox-tls-*")), "the key stayed on the node's disk"
    assert pod["status"]["phase"] == "Running"


def test_a_pod_whose_tls_secret_is_missing_stays_pending(sandbox: Sandbox) -> None:
    sandbox.apply(https_deployment("nosecret", "absent"))
    pending = wait_for("the pod refused", lambda: [p for p in sandbox.pods(NS, "nosecret")
                                                   if p["status"].get("reason") == "CreateContainerConfigError"], 20)
    assert pending[0]["status"]["phase"] == "Pending"
    assert 'secret "absent" not found' in pending[0]["status"]["message"]
