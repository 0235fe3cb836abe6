"""`chaos-operator demo` as a newcomer runs it (shorter phases), and stopped halfway by Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from chaos_sandbox import leftovers

from tests.support.helm_cli import find_helm

DEMO = [sys.executable, "-m", "chaos_sandbox", "demo", "--start-delay", "0.5"]


def test_the_demo_runs_both_experiments_to_their_verdicts(tmp_path: pathlib.Path) -> None:
    started = time.monotonic()
    done = subprocess.run([*DEMO, "--phases", "3s,5s,5s", "--reports", str(tmp_path)], capture_output=True, text=True,
                          timeout=120, check=False)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert time.monotonic() - started < 40
    assert re.search(r"web-kill-one\s+Completed verdict Passed", out), out
    assert re.search(r"solo-kill-only\s+Completed verdict Failed: .*maxErrorRate", out), out
    for text in ("Baseline", "Chaos", "Recovery", "killed web-", "killed solo-", "PHASE     REQUESTS",
                 "recovery time:", "grade:", "score:", "maxErrorRate    chaos", "FAIL", "P95"):
        assert text in out, (text, out)
    assert out.count("Experiment: demo/") == 2
    assert "nothing left behind" in out
    # Installed with helm and run as the chart's pod where it can be (root and helm v4), else in-process.
    if find_helm() is not None and os.geteuid() == 0 and shutil.which("unshare") is not None:
        assert "$ helm install chaos helm/chaos-operator -n chaos-system --create-namespace" in out, out
        assert re.search(r"operator: pod chaos-system/chaos-chaos-operator-\S+ Ready and leading", out), out
        assert "$ helm uninstall chaos -n chaos-system" in out and 'release "chaos" uninstalled' in out, out
    else:
        assert "operator: in-process (" in out, out
    # Each experiment's report and picture, written where it says.
    for name in ("web-kill-one", "solo-kill-only"):
        assert f"report: {tmp_path / name}.html  picture: {tmp_path / name}.png" in out, out
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "data:image/png;base64," in (tmp_path / f"{name}.html").read_text()
    token = re.search(r"\(run (\w+)\)", out)
    assert token is not None and leftovers.scan(token.group(1)).empty
    # It ends with `kubectl get cex`: real kubectl, the emulator's server-side table of the CRD's printer columns.
    if shutil.which("kubectl") is None:
        assert "kubectl is not installed: skipping the `kubectl get cex` table." in out, out
        pytest.skip("kubectl is not installed: the demo's `kubectl get cex` table was not checked")
    table = out.split("$ kubectl --kubeconfig <the sandbox's> get cex -n demo\n")[1].split("\ndemo finished")[0]
    assert re.match(r"NAME +FAULT +PHASE +VERDICT +SCORE +GRADE +AGE\n", table), table
    assert re.search(r"^web-kill-one +PodKill +Completed +Passed +\d+ +[A-Z]+ +\d+s$", table, re.M), table
    assert re.search(r"^solo-kill-only +PodKill +Completed +Failed +\d+ +[A-Z]+ +\d+s$", table, re.M), table


def test_the_demo_with_the_in_process_operator() -> None:
    # What `--operator auto` falls back to without root or helm.
    done = subprocess.run([*DEMO, "--operator", "thread", "--phases", "3s,5s,5s", "--reports", ""],
                          capture_output=True, text=True, timeout=120, check=False)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "operator: in-process (--operator thread)" in out and "helm install" not in out, out
    assert re.search(r"web-kill-one\s+Completed verdict Passed", out), out
    assert re.search(r"solo-kill-only\s+Completed verdict Failed: .*maxErrorRate", out), out
    assert "nothing left behind" in out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopping_the_demo_halfway_stops_everything(sig: signal.Signals) -> None:
    # Started with SIGINT ignored, as a background job of a non-interactive shell (CI) is: the demo must still stop.
    proc = subprocess.Popen([*DEMO, "--phases", "3s,30s,3s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert proc.stdout is not None
    token = ""
    try:
        deadline = time.monotonic() + 40
        for line in proc.stdout:
            found = re.search(r"\(run (\w+)\)", line)
            token = found.group(1) if found else token
            if "Chaos" in line or time.monotonic() > deadline:
                break
        assert token and leftovers.app_processes()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert leftovers.scan(token).empty, leftovers.scan(token).describe()
