"""The console script against the emulator over real HTTP (never a default kubeconfig)."""

from __future__ import annotations

import json
import subprocess
import sys

from chaos_sandbox.emulator import EmulatorThread

from tests.integration.conftest import experiment


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "KUBECONFIG": "/nonexistent", "HOME": "/nonexistent"}
    return subprocess.run([sys.executable, "-m", "chaos_operator", *args], capture_output=True, text=True,
                          timeout=60, env=env, check=False)


def test_report_reads_a_live_resource(emulator: EmulatorThread) -> None:
    obj = experiment("kill", "shop")
    emulator.create("chaosexperiments", obj, "shop")
    emulator.patch("chaosexperiments", "shop", "kill", {"status": {
        "phase": "Completed", "verdict": "Passed", "score": 97, "grade": "GOOD", "reason": "SLOsHeld",
        "message": "All 4 checks passed", "checks": [
            {"name": "recovered", "phase": "recovery", "observed": "1.2s", "limit": "3s", "passed": True}]}},
        subresource="status")
    table = _cli("report", "kill", "-n", "shop", "--server", emulator.url)
    assert table.returncode == 0, table.stderr
    assert "verdict: Passed" in table.stdout and "score: 97" in table.stdout
    assert "recovered" in table.stdout
    raw = _cli("report", "kill", "-n", "shop", "--server", emulator.url, "-o", "json")
    assert json.loads(raw.stdout)["verdict"] == "Passed"


def test_report_missing_resource(emulator: EmulatorThread) -> None:
    result = _cli("report", "nope", "-n", "shop", "--server", emulator.url)
    assert result.returncode == 1
    assert "not found" in result.stderr


def test_report_rejects_bad_namespace(emulator: EmulatorThread) -> None:
    result = _cli("report", "x", "-n", "Bad;ns", "--server", emulator.url)
    assert result.returncode == 2
