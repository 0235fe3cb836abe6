"""What the real kubectl shows against the validating emulator: the CRD's printer columns, `explain` from the
served OpenAPI schema, and an invalid experiment refused at apply time with the field named."""

from __future__ import annotations

import pathlib
import queue
import shutil
import subprocess
import threading

import pytest
import yaml
from chaos_sandbox.emulator import EmulatorThread

from tests.support.kubectl import run as kubectl

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
EXAMPLE = pathlib.Path(__file__).parents[2] / "examples" / "pod-kill.yaml"
NS = "shop"


@pytest.fixture()
def kubeconfig(validating_emulator: EmulatorThread, tmp_path: pathlib.Path) -> pathlib.Path:
    validating_emulator.create("namespaces", {"metadata": {"name": NS}})
    return validating_emulator.write_kubeconfig(tmp_path / "kubeconfig", NS)


def test_get_cex_prints_the_crd_columns(kubeconfig: pathlib.Path, validating_emulator: EmulatorThread) -> None:
    assert kubectl(kubeconfig, "apply", "-f", str(EXAMPLE)).returncode == 0
    validating_emulator.patch("chaosexperiments", NS, "checkout-pod-kill", {"status": {
        "phase": "Completed", "verdict": "Passed", "score": 87, "grade": "GOOD"}}, subresource="status")
    result = kubectl(kubeconfig, "get", "cex")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["NAME", "FAULT", "PHASE", "VERDICT", "SCORE", "GRADE", "AGE"]
    assert row.split()[:6] == ["checkout-pod-kill", "PodKill", "Completed", "Passed", "87", "GOOD"]
    assert row.split()[6].endswith("s")  # an age such as 0s or 3s


def test_get_pods_prints_the_usual_columns(kubeconfig: pathlib.Path, validating_emulator: EmulatorThread) -> None:
    validating_emulator.create("pods", {"metadata": {"name": "web-1"},
                                        "spec": {"containers": [{"name": "c", "image": "i"}]}}, NS)
    ready = [{"name": "c", "ready": True, "restartCount": 2}]
    validating_emulator.patch("pods", NS, "web-1", {"status": {
        "phase": "Running", "podIP": "10.0.0.7", "containerStatuses": ready}}, subresource="status")
    result = kubectl(kubeconfig, "get", "pods", "-o", "wide")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split()[:6] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    assert row.split()[:4] == ["web-1", "1/1", "Running", "2"] and "10.0.0.7" in row


def test_explain_prints_the_field_docs(kubeconfig: pathlib.Path) -> None:
    result = kubectl(kubeconfig, "explain", "chaosexperiment.spec.fault")
    assert result.returncode == 0, result.stderr
    assert "KIND:       ChaosExperiment" in result.stdout
    assert "FIELD: fault <Object>" in result.stdout
    assert "kind\t<string> -required-" in result.stdout and "gracePeriodSeconds\t<integer>" in result.stdout


def test_invalid_experiment_is_refused_with_the_field_named(kubeconfig: pathlib.Path,
                                                            validating_emulator: EmulatorThread) -> None:
    manifest = yaml.safe_load(EXAMPLE.read_text())
    manifest["spec"]["load"]["rate"] = "fast"
    path = kubeconfig.parent / "bad.yaml"
    path.write_text(yaml.safe_dump(manifest))
    result = kubectl(kubeconfig, "apply", "-f", str(path))
    assert result.returncode == 1
    assert 'The ChaosExperiment "checkout-pod-kill" is invalid: spec.load.rate' in result.stderr
    assert validating_emulator.get("chaosexperiments", NS, "checkout-pod-kill") is None

    manifest["spec"]["load"]["rate"] = 50
    manifest["spec"]["fault"]["bogus"] = 1  # kubectl asks for strict field validation: an unknown field is an error
    path.write_text(yaml.safe_dump(manifest))
    result = kubectl(kubeconfig, "apply", "-f", str(path))
    assert result.returncode == 1 and 'unknown field "spec.fault.bogus"' in result.stderr


def test_get_watch_prints_rows_with_the_same_columns(kubeconfig: pathlib.Path,
                                                     validating_emulator: EmulatorThread) -> None:
    assert kubectl(kubeconfig, "apply", "-f", str(EXAMPLE)).returncode == 0
    argv = ["kubectl", "--kubeconfig", str(kubeconfig), "get", "cex", "-w"]
    lines: queue.Queue[str] = queue.Queue()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(kubeconfig.parent)}) as watch:
        assert watch.stdout is not None
        stdout = watch.stdout

        def read() -> None:  # kubectl -w never ends: lines are read on a thread and waited for with a bound
            for line in stdout:
                lines.put(line)
        threading.Thread(target=read, daemon=True).start()
        try:
            header, listed = lines.get(timeout=20), lines.get(timeout=20)
            validating_emulator.patch("chaosexperiments", NS, "checkout-pod-kill", {"status": {"phase": "Baseline"}},
                                      subresource="status")
            event = lines.get(timeout=20)  # the watch event's row
        finally:
            watch.kill()
    assert header.split()[:3] == ["NAME", "FAULT", "PHASE"] and listed.split()[0] == "checkout-pod-kill"
    assert event.split()[:3] == ["checkout-pod-kill", "PodKill", "Baseline"]
