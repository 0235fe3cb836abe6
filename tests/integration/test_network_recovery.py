"""Recovery that always reverts (issue 8) and two experiments on one pod (issue 11), against the emulator with the
real operator under kopf and the fake kubelet (tests/integration/kubelet.py) playing the node."""

from __future__ import annotations

from typing import Any

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.emulator.replicas import ReplicaKeeper

from chaos_operator.faults.helpers.pod_spec import TARGET_LABEL
from tests.integration import helper_pods
from tests.integration.helper_pods import NS, bandwidth, events, operator, wait_injected
from tests.integration.kubelet import FakeKubelet, Report, running, terminated
from tests.support.harness import StaticResolver
from tests.support.waits import status_of, wait_for, wait_phase

keeper, kubelet = helper_pods.keeper, helper_pods.kubelet  # the same fixtures as the other network scenarios


def arg(pod: dict[str, Any], flag: str) -> str | None:
    args = pod["spec"]["containers"][0]["args"]
    return str(args[args.index(flag) + 1]) if flag in args else None


@pytest.mark.parametrize("revert_ok", [True, False])
def test_a_helper_that_vanishes_on_recovery_gets_a_revert_only_helper(
        emulator: EmulatorThread, keeper: ReplicaKeeper, resolver: StaticResolver, kubelet: FakeKubelet,
        revert_ok: bool) -> None:
    if not revert_ok:
        kubelet.revert = lambda pod: ({"state": "revert-failed", "reason": "RevertFailed", "error": "tc: busy"}, 6)
    op = operator(emulator, resolver)
    op.config.recover_retry_s = 3.0  # a revert that keeps failing is retried this long
    with op:
        created = emulator.create("chaosexperiments", bandwidth("vanish", chaos="60s", mode="one"), NS)
        (record,) = wait_injected(emulator, "vanish")
        kubelet.vanish = True  # from now on a deleted helper is gone at once, without a report (force-deleted)
        emulator.patch("chaosexperiments", NS, "vanish", {"spec": {"abort": True}})
        status = wait_phase(emulator, "vanish", ("Aborted", "Completed", "Failed"), timeout=60)
    (final,) = status["injections"]
    reverts = kubelet.seen_role("revert")
    revert = reverts[0]
    assert revert["metadata"]["labels"][TARGET_LABEL] == record["uid"]
    assert arg(revert, "--owner") == created["metadata"]["uid"]
    assert "--revert-only" in revert["spec"]["containers"][0]["args"]
    if revert_ok:  # Recovered only once the revert-only helper said nothing of ours is left
        assert final["state"] == "Recovered" and len(reverts) == 1, final
        assert f"revert-only helper {revert['metadata']['name']}: agent reverted" in final["message"]
    else:  # retried (a revert-only helper each time), then the run fails naming the pod
        assert final["state"] == "RecoveryFailed" and "RevertFailed" in final["message"], final
        attempts = [uid for uid, role in kubelet.instances.items() if role == "revert"]
        assert len(attempts) >= 2 and "RecoveryFailed" in events(emulator, "vanish")
        assert status["reason"] == "RecoveryFailed" and record["target"] in status["message"], status
    wait_for("no helper left", lambda: kubelet.helpers() == [], 10)


class Marker:
    """The agent's owner marker on each target, as the fake kubelet plays it: the first experiment's helper holds the
    pod, a helper of another experiment is refused, a revert or a stop of the holder frees it."""

    def __init__(self, kubelet: FakeKubelet) -> None:
        self.holder: dict[str, str] = {}
        kubelet.start = self.start
        kubelet.stopped = self.stopped

    def start(self, pod: dict[str, Any]) -> dict[str, Any]:
        target, owner = str(arg(pod, "--pod-uid")), str(arg(pod, "--owner"))
        held = self.holder.setdefault(target, owner)
        if held != owner:
            return terminated({"state": "refused", "reason": "OtherExperiment",
                               "error": f"experiment {held} holds a fault on eth0; this one is refused"}, 4)
        return running()

    def stopped(self, pod: dict[str, Any]) -> Report:
        target, owner = str(arg(pod, "--pod-uid")), str(arg(pod, "--owner"))
        if self.holder.get(target) == owner:
            del self.holder[target]
            return {"state": "reverted", "revert": "reverted"}
        return {"state": "refused", "reason": "OtherExperiment"}


def test_a_second_experiment_on_the_same_pods_is_refused_and_the_first_keeps_its_fault(
        emulator: EmulatorThread, keeper: ReplicaKeeper, resolver: StaticResolver, kubelet: FakeKubelet) -> None:
    marker = Marker(kubelet)
    with operator(emulator, resolver):
        first = emulator.create("chaosexperiments", bandwidth("first", chaos="60s"), NS)
        wait_injected(emulator, "first", 2)
        emulator.create("chaosexperiments", bandwidth("second", chaos="60s"), NS)
        second = wait_phase(emulator, "second", ("Completed", "Failed", "Aborted"), timeout=60)
        assert (second["phase"], second["reason"]) == ("Failed", "InjectionFailed"), second
        assert len(second["injections"]) == 2
        assert all(r["state"] == "Failed" and "OtherExperiment" in r["message"]
                   and first["metadata"]["uid"] in r["message"] for r in second["injections"])
        assert "InjectionFailed" in events(emulator, "second")
        # The first experiment's fault is untouched and still its own.
        held = status_of(emulator, "first")
        assert held["phase"] == "Chaos" and all(r["state"] == "Injected" for r in held["injections"])
        assert set(marker.holder.values()) == {first["metadata"]["uid"]}
        emulator.patch("chaosexperiments", NS, "first", {"spec": {"abort": True}})
        done = wait_phase(emulator, "first", ("Aborted",), timeout=30)
    assert all(r["state"] == "Recovered" for r in done["injections"]) and marker.holder == {}
    wait_for("no helper left", lambda: kubelet.helpers() == [], 10)
