"""`sandbox up|status|down`: a detached sandbox process, stopped cleanly or after a crash, nothing left."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import urllib.request
from collections.abc import Iterator

import pytest
from chaos_sandbox import leftovers
from chaos_sandbox.background import main_sandbox, read_state

from tests.support.chart import CHART
from tests.support.helm_cli import Helm, find_helm
from tests.support.kubectl import Kubectl, run
from tests.support.waits import wait_for


@pytest.fixture
def state_dir(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    path = tmp_path / "state"
    yield path
    state = read_state(path)  # whatever happened in the test, no sandbox outlives it
    if state is not None:
        os.kill(int(state["pid"]), signal.SIGKILL)
    leftovers.sweep()


def up(state_dir: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, object], str]:
    assert main_sandbox(["up", "--state-dir", str(state_dir), "--network", "auto"]) == 0
    out = capsys.readouterr().out
    state = read_state(state_dir)
    assert state is not None
    return state, out


def test_up_status_down(state_dir: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    state, out = up(state_dir, capsys)
    assert f"kubectl --kubeconfig {state_dir / 'kubeconfig'}" in out and "sandbox down" in out
    assert state["operator"] is True
    with urllib.request.urlopen(f"{state['url']}/api/v1/namespaces/demo/pods", timeout=5) as resp:  # loopback
        pods = json.loads(resp.read())["items"]
    assert len(pods) == 4 and all(p["status"]["phase"] == "Running" for p in pods)
    if shutil.which("kubectl") is not None:  # RBAC is enforced: the two kubeconfigs are two identities
        admin, restricted = pathlib.Path(str(state["kubeconfig"])), pathlib.Path(str(state["kubeconfig_restricted"]))
        assert run(admin, "auth", "can-i", "delete", "pods", "-n", "demo").stdout.strip() == "yes"
        assert run(restricted, "auth", "can-i", "delete", "pods", "-n", "demo").stdout.strip() == "no"
        assert run(restricted, "auth", "can-i", "create", "chaosexperiments", "-n", "demo").stdout.strip() == "yes"
        assert "forbidden" in run(restricted, "delete", "pods", "--all", "-n", "demo").stderr

    assert main_sandbox(["up", "--state-dir", str(state_dir)]) == 0
    assert "already running" in capsys.readouterr().out
    assert main_sandbox(["status", "--state-dir", str(state_dir)]) == 0
    status = capsys.readouterr().out
    assert "sandbox running" in status and status.count("  pod ") == 4

    assert main_sandbox(["down", "--state-dir", str(state_dir)]) == 0
    assert "nothing left behind" in capsys.readouterr().out
    assert read_state(state_dir) is None
    assert leftovers.scan(str(state["token"])).empty


def test_down_cleans_up_after_a_crashed_sandbox(state_dir: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    state, _ = up(state_dir, capsys)
    token = str(state["token"])
    assert len([p for p, tok in leftovers.app_processes() if tok == token]) == 4
    os.kill(int(str(state["pid"])), signal.SIGKILL)  # no chance to clean up
    wait_for("the crashed sandbox to be seen as dead", lambda: read_state(state_dir) is None, 5)
    assert main_sandbox(["status", "--state-dir", str(state_dir)]) == 0
    assert "leftovers of crashed runs" in capsys.readouterr().out or leftovers.scan(token).empty
    assert main_sandbox(["down", "--state-dir", str(state_dir)]) == 0
    assert "nothing left behind" in capsys.readouterr().out
    assert leftovers.scan(token).empty
    # The pods' processes noticed their parent was gone and exited by themselves (or were killed by down).
    wait_for("no pod process", lambda: not [p for p, tok in leftovers.app_processes() if tok == token], 5)


@pytest.mark.parametrize("how", ["--helm", "--no-operator"])
def test_up_with_the_operator_installed_by_helm(state_dir: pathlib.Path, tmp_path: pathlib.Path, how: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """--helm: `up` runs helm install; --no-operator: the user types it, as on a cluster (no CRD until then)."""
    helm = find_helm()
    if helm is None or os.geteuid() != 0 or shutil.which("kubectl") is None:
        pytest.skip("needs helm v4 (make deps), kubectl, and root (the operator's pod connects in-cluster)")
    assert main_sandbox(["up", how, "--state-dir", str(state_dir)]) == 0
    out = capsys.readouterr().out
    state = read_state(state_dir)
    assert state is not None
    kubeconfig = pathlib.Path(str(state["kubeconfig"]))
    cli, kubectl = Helm(helm, kubeconfig, tmp_path), Kubectl(kubeconfig, tmp_path)
    if how == "--no-operator":
        typed = f"{helm} --kubeconfig {kubeconfig} install chaos helm/chaos-operator -n chaos-system --create-namespace"
        assert typed in out and state["operator"] is False, out
        assert "chaosexperiments" not in kubectl("api-resources")
        cli("install", "chaos", str(CHART), "-n", "chaos-system", "--create-namespace")
    else:
        assert state["helm"]["pod"] in out and f"{helm} --kubeconfig {kubeconfig} status chaos -n chaos-system" in out
    assert "STATUS: deployed" in cli("status", "chaos", "-n", "chaos-system")
    running = wait_for("the operator pod Running", lambda: [
        p["metadata"]["name"] for p in kubectl.json("get", "pods", "-n", "chaos-system")["items"]
        if p["status"].get("phase") == "Running"], 60)
    assert len(running) == 1 and (how == "--no-operator" or running == [state["helm"]["pod"]]), running
    crd = kubectl.json("get", "crd", "chaosexperiments.chaosoperator.dev")  # the chart's, not the sandbox's
    assert crd["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert main_sandbox(["down", "--state-dir", str(state_dir)]) == 0
    assert "nothing left behind" in capsys.readouterr().out
    assert leftovers.scan(str(state["token"])).empty
