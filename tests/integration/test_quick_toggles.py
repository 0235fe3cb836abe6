"""Issue 17 item 7: quick abort and pause toggles leave no stuck run.

A run that saw `spec.abort` (or the kill switch) stops its chaos window and reverts; if the request is withdrawn
while it reverts, the run must still end as the request it acted on said (Aborted), not take the stop for the
operator's own shutdown and leave the experiment mid-phase with no daemon to finish it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.emulator.replicas import ReplicaKeeper

from tests.integration import helper_pods
from tests.integration.helper_pods import NS, OPS, bandwidth, operator, wait_injected
from tests.integration.kubelet import FakeKubelet
from tests.support.harness import StaticResolver
from tests.support.waits import status_of, wait_for, wait_phase

keeper, kubelet = helper_pods.keeper, helper_pods.kubelet  # the scenarios' fixtures
TERMINAL = ("Completed", "Failed", "Aborted")


def cli(emulator: EmulatorThread, *args: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "KUBECONFIG": "/nonexistent", "HOME": "/nonexistent"}
    subprocess.run([sys.executable, "-m", "chaos_operator", *args, "--server", emulator.url, "--operator-namespace",
                    OPS], capture_output=True, text=True, timeout=60, env=env, check=True)


def reverting(emulator: EmulatorThread, name: str) -> bool:
    return any(r["state"] != "Injected" for r in status_of(emulator, name).get("injections", []))


@pytest.mark.parametrize("how", ["abort", "pause"])
def test_a_request_withdrawn_while_the_run_reverts_still_ends_it(
        how: str, emulator: EmulatorThread, keeper: ReplicaKeeper, resolver: StaticResolver,
        kubelet: FakeKubelet) -> None:
    kubelet.remove_after = 2.0  # each helper takes its time to revert: the request is withdrawn meanwhile
    with operator(emulator, resolver):
        emulator.create("chaosexperiments", bandwidth("toggled", chaos="60s"), NS)
        wait_injected(emulator, "toggled", 2)
        if how == "abort":
            emulator.patch("chaosexperiments", NS, "toggled", {"spec": {"abort": True}})
        else:
            cli(emulator, "pause", "--reason", "a second thought")
        wait_for("the run to start reverting", lambda: reverting(emulator, "toggled"), timeout=30)
        if how == "abort":
            emulator.patch("chaosexperiments", NS, "toggled", {"spec": {"abort": False}})
        else:
            cli(emulator, "resume")
        status = wait_phase(emulator, "toggled", TERMINAL, timeout=60)
        wait_for("no helper left", lambda: kubelet.helpers() == [], 30)
    assert status["phase"] == "Aborted", (status["phase"], status.get("reason"), status.get("message"))
    assert status["reason"] == ("Aborted" if how == "abort" else "Paused")
    assert all(r["state"] == "Recovered" for r in status["injections"]), status["injections"]
