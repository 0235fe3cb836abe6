"""The emulator records each kind of request it serves in RBAC terms, as a bounded set of distinct calls."""

from __future__ import annotations

import asyncio
import json
import pathlib
import urllib.request
from typing import Any

from chaos_sandbox.emulator import ALL_CALLS, ApiCall, EmulatorThread

from chaos_operator.adapters.kube import KubeClient, client_config

NS = "ns1"
CLIENT = "calls-test"


def call(emu: EmulatorThread, method: str, path: str, body: Any = None, token: str = "",
         content_type: str = "application/json") -> int:
    headers = {"Content-Type": content_type, "User-Agent": f"{CLIENT}/1.0 (tests)",
               **({"Authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(emu.url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        return int(response.status)


def test_each_verb_is_recorded_once_in_rbac_terms(emulator: EmulatorThread) -> None:
    pods = f"/api/v1/namespaces/{NS}/pods"
    cex = f"/apis/chaosoperator.dev/v1alpha1/namespaces/{NS}/chaosexperiments"
    for _ in range(3):  # repeats add nothing: the record does not grow with history
        call(emulator, "GET", "/api/v1")  # discovery is no resource request
        call(emulator, "POST", pods, {"metadata": {"name": "p"}, "spec": {"containers": []}})
        call(emulator, "GET", f"{pods}/p")
        call(emulator, "GET", "/api/v1/pods")  # across namespaces
        call(emulator, "GET", f"{pods}?watch=true&timeoutSeconds=1")
        call(emulator, "PATCH", f"{pods}/p/status", {"status": {"phase": "Running"}}, token="sa-chaos-schedule",
             content_type="application/merge-patch+json")
        call(emulator, "DELETE", f"{pods}/p")
        call(emulator, "DELETE", cex)
    expected = {
        ApiCall("create", "", "pods", "", NS, "", CLIENT), ApiCall("get", "", "pods", "", NS, "", CLIENT),
        ApiCall("list", "", "pods", "", "", "", CLIENT), ApiCall("watch", "", "pods", "", NS, "", CLIENT),
        ApiCall("patch", "", "pods", "status", NS, "sa-chaos-schedule", CLIENT),
        ApiCall("delete", "", "pods", "", NS, "", CLIENT),
        ApiCall("deletecollection", "chaosoperator.dev", "chaosexperiments", "", NS, "", CLIENT),
    }
    assert emulator.emulator.calls == expected
    assert expected <= ALL_CALLS


def test_a_namespace_is_its_own_namespace_as_for_rbac(emulator: EmulatorThread) -> None:
    call(emulator, "POST", "/api/v1/namespaces", {"metadata": {"name": "extra"}})
    call(emulator, "GET", "/api/v1/namespaces/extra")
    call(emulator, "PUT", "/api/v1/namespaces/extra/status", {"metadata": {"name": "extra"}, "status": {}})
    assert {call[:5] for call in emulator.emulator.calls} == {("create", "", "namespaces", "", ""),
                                                               ("get", "", "namespaces", "", "extra"),
                                                               ("update", "", "namespaces", "status", "extra")}


def test_a_kubeconfig_token_is_recorded_as_the_callers_identity(emulator: EmulatorThread,
                                                                tmp_path: pathlib.Path) -> None:
    # The operator's own client (what `chaos-operator submit` uses too) sends the token over plain HTTP;
    # kubectl does not, so its calls are recorded with no identity.
    account = "system:serviceaccount:shop:chaos-schedule"
    kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig", NS, token=account)
    kube = KubeClient(client_config(kubeconfig=str(kubeconfig)))
    try:
        asyncio.run(kube.list_pods(NS, "app=web"))
    finally:
        kube.close()
    assert emulator.emulator.calls == {ApiCall("list", "", "pods", "", NS, account, "chaos-operator")}
