"""The kill switch and the namespace opt-in, with the real operator and the real CLI against the emulator."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import time
from typing import Any

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.runtime.killswitch import CONFIGMAP
from tests.integration.conftest import experiment, make_pod, make_service
from tests.integration.kubelet import IMAGE, FakeKubelet
from tests.support.harness import OPERATOR_TOKEN, ServiceThread, StaticResolver
from tests.support.net import free_port, get
from tests.support.waits import status_of, wait_for, wait_phase

NS = "shop"
OPS = "chaos-system"
TERMINAL = ("Completed", "Failed", "Aborted")


def cli(emulator: EmulatorThread, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "KUBECONFIG": "/nonexistent", "HOME": "/nonexistent"}
    result = subprocess.run([sys.executable, "-m", "chaos_operator", *args, "--server", emulator.url,
                             "--operator-namespace", OPS], capture_output=True, text=True, timeout=60, env=env,
                            check=False)
    assert result.returncode == 0, result.stderr
    return result


def operator(emulator: EmulatorThread, resolver: StaticResolver, **config: Any) -> OperatorThread:
    op = OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess")
    op.config.image = IMAGE
    for key, value in config.items():
        setattr(op.config, key, value)
    return op


def net(name: str, shard: int, chaos: str = "60s", ns: str = NS, recovery: str = "2s") -> dict[str, Any]:
    return experiment(name, ns, target={"selector": {"matchLabels": {"app": "checkout", "shard": str(shard)}},
                                        "mode": "all"},
                      fault={"kind": "NetworkBandwidth", "rate": "1mbit"},
                      load={"service": {"name": "checkout", "port": 8080}, "path": "/", "rate": 60,
                            "concurrency": 2, "timeout": "1s"},
                      phases={"baseline": "2s", "chaos": chaos, "recovery": recovery})


def injected(emulator: EmulatorThread, name: str) -> bool:
    return any(r["state"] == "Injected" for r in status_of(emulator, name).get("injections", []))


def test_pause_aborts_and_recovers_everything_refuses_new_ones_survives_a_restart_and_resume_works(
        emulator: EmulatorThread, resolver: StaticResolver) -> None:
    names = [f"net-{i}" for i in range(3)]
    for i in range(len(names) + 1):
        make_pod(emulator, NS, f"checkout-{i}", {"app": "checkout", "shard": str(i)})
    with FakeKubelet(emulator) as kubelet:
        with operator(emulator, resolver):
            for i, name in enumerate(names):
                emulator.create("chaosexperiments", net(name, i), NS)
            for name in names:
                wait_for(f"{name} injected", lambda n=name: injected(emulator, n), timeout=60)  # type: ignore[misc]
            assert len(kubelet.helpers("fault")) == len(names)
            cli(emulator, "pause", "--reason", "game day drill")
            paused_at = time.monotonic()
            ended = [wait_phase(emulator, name, TERMINAL, timeout=30) for name in names]
            all_ended = time.monotonic() - paused_at
            wait_for("no helper pod left", lambda: kubelet.helpers() == [], timeout=30)
            all_recovered = time.monotonic() - paused_at
            helpers_seen = len(kubelet.seen)
            emulator.create("chaosexperiments", net("late", 3, chaos="2s"), NS)
            late = wait_phase(emulator, "late", TERMINAL, timeout=30)
        port = free_port()
        # A restarted operator reads the pause from the ConfigMap.
        with operator(emulator, resolver, metrics_port=port, metrics_host="127.0.0.1"):
            emulator.create("chaosexperiments", net("after-restart", 3, chaos="2s"), NS)
            restarted = wait_phase(emulator, "after-restart", TERMINAL, timeout=30)
            assert "PAUSED" in cli(emulator, "pause-status").stdout
            assert len(kubelet.seen) == helpers_seen  # nothing was touched while paused
            cli(emulator, "resume")
            assert cli(emulator, "pause-status").stdout.startswith("running")
            # The operator polls the switch: wait until it has seen the resume (its own gauge says so).
            wait_for("the operator to see the resume", lambda: "chaos_operator_paused 0.0" in get(
                f"http://127.0.0.1:{port}/metrics")[1], timeout=10)
            # 4 s of recovery at 60/s: enough requests for the error-rate interval to decide maxErrorRate.
            emulator.create("chaosexperiments", net("resumed", 3, chaos="5s", recovery="4s"), NS)
            resumed = wait_phase(emulator, "resumed", TERMINAL, timeout=60)
    print(f"kill switch: {len(names)} experiments Aborted (records Recovered) {all_ended:.2f}s and every helper pod "
          f"gone {all_recovered:.2f}s after `chaos-operator pause` returned")
    for status in ended:
        assert (status["phase"], status["reason"]) == ("Aborted", "Paused"), status
        assert "game day drill" in status["message"]
        assert status["injections"] and all(r["state"] == "Recovered" for r in status["injections"]), status
    for status in (late, restarted):
        assert (status["phase"], status["reason"]) == ("Failed", "Paused"), status
        assert "game day drill" in status["message"] and not status.get("injections")
    assert (resumed["phase"], resumed.get("verdict")) == ("Completed", "Passed"), (
        resumed["reason"], resumed["message"], resumed["injections"])


def test_require_opt_in_refuses_namespaces_without_the_label(emulator: EmulatorThread, service: ServiceThread) -> None:
    for ns in ("plain", "opted"):
        make_service(emulator, ns)
        make_pod(emulator, ns, "checkout-0", {"app": "checkout"})
    emulator.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                  "metadata": {"name": "opted", "labels": {"chaosoperator.dev/allow": "true"}}})
    resolver = StaticResolver({(ns, "checkout", 8080): [service.url] for ns in ("plain", "opted")})
    dry = {"dryRun": True}
    # Another identity: these calls (get namespaces) are the opt-in mode's (Helm value requireNamespaceOptIn), not
    # the default chart's, which tests/packaging/test_rbac.py checks the harness identity's calls against.
    with operator(emulator, resolver, require_opt_in=True, token="operator-with-opt-in"):
        for ns in ("plain", "opted"):
            emulator.create("chaosexperiments", experiment("try", ns, **dry), ns)
        refused = wait_phase(emulator, "try", TERMINAL, ns="plain")
        allowed = wait_phase(emulator, "try", TERMINAL, ns="opted")
    assert (refused["phase"], refused["reason"]) == ("Failed", "NamespaceRefused"), refused
    assert "chaosoperator.dev/allow=true" in refused["message"] and "--require-opt-in" in refused["message"]
    assert (allowed["phase"], allowed["reason"]) == ("Completed", "DryRun"), allowed
    assert service.hits == 0


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_can_pause_and_garbage_counts_as_paused(emulator: EmulatorThread, tmp_path: pathlib.Path) -> None:
    kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig")
    kubectl = ["kubectl", "--kubeconfig", str(kubeconfig), "-n", OPS]
    assert cli(emulator, "pause-status").stdout.startswith("running: no pause ConfigMap")
    # `kubectl create configmap` would do on a real emulator; it sends a body the JSON-only emulator refuses.
    manifest = tmp_path / "pause.yaml"
    manifest.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {CONFIGMAP}, namespace: {OPS}}}\n"
                        "data: {paused: 'true', reason: by hand}\n")
    subprocess.run([*kubectl, "create", "-f", str(manifest)], check=True, capture_output=True, timeout=60)
    shown = cli(emulator, "pause-status").stdout
    assert shown.startswith("PAUSED") and "by hand" in shown
    subprocess.run([*kubectl, "patch", "configmap", CONFIGMAP, "--type=merge", "-p", '{"data":{"paused":"maybe"}}'],
                   check=True, capture_output=True, timeout=60)
    out = cli(emulator, "pause-status", "-o", "json").stdout
    assert '"paused": true' in out and "treated as paused" in out
