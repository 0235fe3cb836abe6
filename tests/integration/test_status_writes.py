"""Status writes against the API emulator over real HTTP: every write carries its resourceVersion, a stale one
gets 409 and is re-applied without moving the phase back, and an unreadable status is never run again."""

from __future__ import annotations

import asyncio

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.adapters.clock import SystemClock
from chaos_operator.adapters.kube import KubeClient, client_config
from chaos_operator.engine import failclosed
from chaos_operator.engine.recorder import Recorder
from chaos_operator.faults.helpers.pod_spec import (
    EXPERIMENT_ANNOTATION,
    EXPERIMENT_NS_LABEL,
    EXPERIMENT_UID_LABEL,
    HELPER_SELECTOR,
    MANAGED_BY,
    OPERATOR,
    ROLE_LABEL,
)
from chaos_operator.models.status import ExperimentStatus, Phase
from chaos_operator.ports import ExperimentRef, StatusConflict
from tests.integration.conftest import SHOP, experiment, make_pod, make_service
from tests.support.harness import OPERATOR_TOKEN, ServiceThread, StaticResolver
from tests.support.waits import status_of, wait_for, wait_phase

OPS = "chaos-system"  # the operator's namespace


def _created(emulator: EmulatorThread, name: str) -> tuple[ExperimentRef, str]:
    obj = emulator.create("chaosexperiments", experiment(name, SHOP), SHOP)
    meta = obj["metadata"]
    return ExperimentRef(SHOP, name, meta["uid"]), str(meta["resourceVersion"])


def test_a_stale_status_write_is_refused_with_409(emulator: EmulatorThread) -> None:
    ref, version = _created(emulator, "stale")
    kube = KubeClient(client_config(server=emulator.url))
    emulator.patch("chaosexperiments", SHOP, "stale", {"status": {"phase": "Baseline"}}, subresource="status")
    with pytest.raises(StatusConflict):
        asyncio.run(kube.patch_experiment_status(SHOP, "stale", {"phase": "Chaos"}, resource_version=version))
    assert emulator.get("chaosexperiments", SHOP, "stale")["status"]["phase"] == "Baseline"  # type: ignore[index]


def test_a_status_write_to_a_hung_api_server_times_out(emulator: EmulatorThread) -> None:
    ref, version = _created(emulator, "hung")
    kube = KubeClient(client_config(server=emulator.url), request_timeout=0.5)
    emulator.emulator.stalls[("patch", "chaosexperiments")] = 60.0  # answers after the test has ended
    try:
        with pytest.raises(Exception, match="(?i)timed? ?out") as raised:
            asyncio.run(kube.patch_experiment_status(SHOP, "hung", {"phase": "Baseline"}, resource_version=version))
        assert not isinstance(raised.value, StatusConflict)
        assert asyncio.run(kube.get_experiment(SHOP, "hung")) is not None  # other routes still answer
    finally:
        emulator.emulator.stalls.clear()


def test_a_conflicting_writer_re_reads_and_never_moves_the_phase_back(emulator: EmulatorThread) -> None:
    ref, version = _created(emulator, "race")
    kube = KubeClient(client_config(server=emulator.url))

    async def scenario() -> Recorder:
        recorder = Recorder(kube, SystemClock(), ref, ExperimentStatus(), resource_version=version)
        await recorder.enter(Phase.BASELINE, "measuring the baseline")
        assert recorder.resource_version is not None and recorder.resource_version != version
        # Another writer (a second operator, the deletion handler) ends the experiment meanwhile.
        emulator.patch("chaosexperiments", SHOP, "race", {"status": {"phase": "Aborted", "reason": "Aborted",
                                                                    "message": "aborted elsewhere"}},
                      subresource="status")
        await recorder.enter(Phase.CHAOS, "injecting PodKill")
        return recorder

    recorder = asyncio.run(scenario())
    stored = emulator.get("chaosexperiments", SHOP, "race")["status"]  # type: ignore[index]
    assert (stored["phase"], stored["message"]) == ("Aborted", "aborted elsewhere")
    assert recorder.status.phase == "Aborted"


def test_an_unreadable_status_fails_closed_and_recovers_what_it_can(emulator: EmulatorThread,
                                                                    service: ServiceThread) -> None:
    make_service(emulator, SHOP)
    victim_uid = make_pod(emulator, SHOP, "checkout-0", {"app": "checkout"})
    ref, _ = _created(emulator, "skewed")
    # A status from another version: a phase this one does not know, and a record that still names a pod.
    emulator.patch("chaosexperiments", SHOP, "skewed", {"status": {
        "phase": "Draining", "seed": "7", "futureField": {"x": 1}, "phases": {"baseline": {"requests": -1}},
        "injections": [{"target": "checkout-0", "uid": victim_uid, "state": "Injected"},
                       {"target": "gone-1", "uid": "u-1", "state": "Recovered"}]}}, subresource="status")
    labels = {MANAGED_BY: OPERATOR, ROLE_LABEL: "inject", EXPERIMENT_NS_LABEL: SHOP, EXPERIMENT_UID_LABEL: ref.uid}
    helper = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "chaos-net-skewed-1", "namespace": OPS, "labels": labels,
        "annotations": {EXPERIMENT_ANNOTATION: "skewed"}},
        "spec": {"containers": [{"name": "agent", "image": "chaos-operator:test"}]}}
    emulator.create("pods", helper, OPS)  # helpers live in the operator's namespace, found by their labels
    resolver = StaticResolver({(SHOP, "checkout", 8080): [service.url]})
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        wait_phase(emulator, "skewed", ("Failed", "Completed", "Aborted"))  # written first, before recovery
        status = wait_for("the recovery's summary", lambda: "helper pod(s)" in (s := status_of(emulator, "skewed"))
                          .get("message", "") and s)
    assert (status["phase"], status["reason"]) == ("Failed", "UnreadableStatus")
    assert "status.phase" in status["message"] and "not run again" in status["message"]
    assert "1 helper pod(s) of this experiment deleted; 1 of 1 recorded target(s) recovered" in status["message"]
    assert "futureField" not in status and "seed" not in status  # the unreadable status is replaced whole
    assert "baseline" not in status.get("phases", {})  # at every depth (a merge patch merges objects)
    ExperimentStatus.model_validate(status)
    assert [(r["target"], r["state"]) for r in status["injections"]] == [("checkout-0", "Recovered")]
    assert service.hits == 0  # no load: nothing ran again
    pods = {p["metadata"]["name"] for p in emulator.list("pods", SHOP)}
    assert "checkout-0" in pods  # PodKill was not applied again
    assert not emulator.list("pods", OPS, label_selector=HELPER_SELECTOR)


def test_replacing_an_unreadable_status_survives_a_conflict(emulator: EmulatorThread) -> None:
    """The fail-closed writer's second write meets a 409 (kopf patched the object meanwhile): its re-read finds
    the status it wrote, readable, because the first write replaced the unreadable one at every depth."""
    ref, _ = _created(emulator, "nested")
    emulator.patch("chaosexperiments", SHOP, "nested", {"status": {
        "phase": "Recovery", "phases": {"baseline": {"requests": -1}, "future": {"x": 1}}}}, subresource="status")
    raw = emulator.get("chaosexperiments", SHOP, "nested")["status"]  # type: ignore[index]
    found = failclosed.read_status(raw)
    assert isinstance(found, failclosed.Unreadable)
    kube = KubeClient(client_config(server=emulator.url))

    async def scenario() -> Recorder:
        recorder = Recorder(kube, SystemClock(), ref, ExperimentStatus(), clear=dict(found.raw))
        await recorder.finish(Phase.FAILED, None, "UnreadableStatus", "first")
        emulator.patch("chaosexperiments", SHOP, "nested", {"metadata": {"annotations": {"kopf": "x"}}})
        await recorder.finish(Phase.FAILED, None, "UnreadableStatus", "second")
        return recorder

    asyncio.run(scenario())
    stored = emulator.get("chaosexperiments", SHOP, "nested")["status"]  # type: ignore[index]
    assert (stored["phase"], stored["message"]) == ("Failed", "second")
    assert stored.get("phases", {}) == {}
    ExperimentStatus.model_validate(stored)
