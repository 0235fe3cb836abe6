"""HelperPodFault (create/adopt/wait/delete/revert-only) and the startup sweep, over an in-memory KubeApi."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chaos_operator.faults.base import FaultContext, FaultError
from chaos_operator.faults.helpers import pod as helper_pod
from chaos_operator.faults.helpers import pod_spec as manifests
from chaos_operator.faults.registry import FAULTS, fault_for
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import Injection, RecordState
from tests.support.fake_kube import NS, OPS, UID, FakeKube, fast_clock, running, terminated

EXP_UID = "7b1c2d3e-4f50-4a6b-9c8d-0e1f2a3b4c5d"


def ctx(kube: FakeKube, fault: dict[str, Any] | None = None, step: float = 1.0) -> FaultContext:
    spec = ExperimentSpec.model_validate({
        "target": {"selector": {"matchLabels": {"app": "checkout"}}},
        "fault": fault or {"kind": "NetworkLatency", "latency": "100ms"},
        "load": {"service": {"name": "checkout", "port": 8080}}, "phases": {"chaos": "30s"}})
    return FaultContext(kube=kube, clock=fast_clock(step), namespace=NS, experiment="exp", spec=spec,  # type: ignore[arg-type]
                        label_selector="app=checkout", ready_before=1, operator_namespace=OPS, experiment_uid=EXP_UID,
                        image="img:1")


def record(helper: str | None = None) -> Injection:
    return Injection(target="checkout-1", uid=UID, state=RecordState.INJECTED, helper_pod=helper)


def fault(kind: str = "NetworkLatency") -> helper_pod.HelperPodFault[Any]:
    impl = fault_for(kind)
    assert isinstance(impl, helper_pod.HelperPodFault)
    return impl


def name(role: str = "fault", kind: str = "NetworkLatency") -> str:
    return manifests.helper_name("exp", EXP_UID, UID, kind, role, family=fault(kind).family)  # type: ignore[arg-type]


async def test_apply_creates_a_pinned_helper_and_waits_until_it_holds() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1", node="node-9")
    kube.on_create = lambda pod: running()
    changes = await fault().apply(ctx(kube), record())
    assert changes["helper_pod"] == name() and "node-9" in changes["message"]
    pod = kube.pods[(OPS, name())]
    assert pod["spec"]["nodeName"] == "node-9" and pod["spec"]["containers"][0]["image"] == "img:1"
    assert kube.created == [name()] and not any(ns == NS for ns, n in kube.pods if n == name())
    # Never in the tenant's namespace; its experiment is named by labels (no owner reference across namespaces).
    assert "ownerReferences" not in pod["metadata"]
    assert pod["metadata"]["labels"][manifests.EXPERIMENT_NS_LABEL] == NS
    assert pod["metadata"]["labels"][manifests.EXPERIMENT_UID_LABEL] == EXP_UID


async def test_apply_adopts_its_own_helper_from_an_earlier_attempt() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.add_pod(name(), uid="helper", namespace=OPS, labels={manifests.EXPERIMENT_UID_LABEL: EXP_UID})
    kube.pods[(OPS, name())]["status"] = running()
    assert (await fault().apply(ctx(kube), record()))["helper_pod"] == name()
    assert kube.created == [] and kube.deleted == []


async def test_apply_refuses_a_pod_of_that_name_it_does_not_own() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.add_pod(name(), uid="other", namespace=OPS, labels={manifests.EXPERIMENT_UID_LABEL: "someone-else"})
    with pytest.raises(FaultError, match="does not belong to this experiment"):
        await fault().apply(ctx(kube), record())


@pytest.mark.parametrize(("target_uid", "node", "error"), [
    (None, None, "is gone"), ("another-uid", "n1", "is gone"), (UID, None, "not on a node"),
])
async def test_apply_needs_the_target_on_a_node(target_uid: str | None, node: str | None, error: str) -> None:
    kube = FakeKube()
    if target_uid is not None:
        kube.add_pod("checkout-1", uid=target_uid, node=node)
    with pytest.raises(FaultError, match=error):
        await fault().apply(ctx(kube), record())
    assert kube.created == []


@pytest.mark.parametrize(("status", "error"), [
    (terminated({"state": "refused", "reason": "TargetNotFound", "error": "no process of pod"}, 3),
     "agent refused \\(TargetNotFound\\): no process of pod"),
    ({"phase": "Pending", "containerStatuses": [{"name": "agent", "state": {"waiting": {
        "reason": "InvalidImageName"}}}]}, "cannot start: InvalidImageName"),
    ({"phase": "Pending", "containerStatuses": [{"name": "agent", "state": {"waiting": {
        "reason": "ErrImagePull", "message": "access denied"}}}]}, "cannot start: ErrImagePull access denied"),
    ({"phase": "Pending", "containerStatuses": [{"name": "agent", "state": {"waiting": {
        "reason": "ImagePullBackOff"}}}]}, "cannot start: ImagePullBackOff"),
    ({"phase": "Pending"}, "did not hold the fault in time"),
    (running(ready=False), "did not hold the fault in time \\(phase Running, running, never ready\\)"),
])
async def test_apply_fails_with_the_agents_words_and_removes_the_helper(status: dict[str, Any], error: str) -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.on_create = lambda pod: status
    with pytest.raises(FaultError, match=error):
        await fault().apply(ctx(kube, step=10.0), record())
    assert (OPS, name()) not in kube.pods and kube.deleted == [name()]


async def test_apply_waits_for_ready_not_for_running_time() -> None:
    """A slow agent: its pod runs for many (fast-clock) seconds before it becomes Ready, and the fault counts as
    applied only then; with no readiness it never does (the parametrized case above)."""
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.on_create = lambda pod: running(ready=False)
    polls = 0
    real_get = kube.get_pod

    async def get_pod(namespace: str, pod_name: str) -> dict[str, Any] | None:
        nonlocal polls
        polls += 1
        if polls == 4 and pod_name == name():  # the agent's ready file appears ~20 clock seconds after Running
            kube.pods[(OPS, name())]["status"] = running(ready=True)
        return await real_get(namespace, pod_name)

    kube.get_pod = get_pod  # type: ignore[method-assign,assignment]
    assert (await fault().apply(ctx(kube, step=5.0), record()))["helper_pod"] == name()
    assert polls >= 4 and kube.deleted == []


async def test_recover_reads_the_report_while_the_helper_stops() -> None:
    kube = FakeKube()
    kube.add_pod(name(), uid="helper", namespace=OPS)
    kube.pods[(OPS, name())]["status"] = running()
    kube.graceful = {"state": "reverted", "revert": "reverted"}
    changes = await fault().recover(ctx(kube), record(name()))
    assert changes == {"message": f"helper pod {name()} deleted; agent reverted"}
    assert (OPS, name()) not in kube.pods


async def test_recover_is_idempotent_and_finds_the_helper_by_its_name() -> None:
    kube = FakeKube()  # no target either: its network namespace, and any qdisc, went with it
    gone = "nothing to revert: target pod checkout-1 is gone"
    assert await fault().recover(ctx(kube), record()) == {"message": f"no helper pod {name()} was left; {gone}"}
    kube.add_pod(name(), uid="helper", namespace=OPS)  # created, but the record never learnt it (a crash in between)
    assert await fault().recover(ctx(kube), record()) == {"message": f"helper pod {name()} deleted; {gone}"}
    assert kube.deleted == [name()] and kube.created == []


@pytest.mark.parametrize("helper_left", [False, True])
async def test_recover_of_a_vanished_helper_runs_a_revert_only_helper(helper_left: bool) -> None:
    """Issue 8: a helper gone without a report that was read (force-deleted, its node lost) may have left its
    qdisc; recovery runs the same revert-only helper the lost-helper watch runs, and says Recovered only after it."""
    kube = FakeKube()
    kube.add_pod("checkout-1")
    if helper_left:
        kube.add_pod(name(), uid="helper", namespace=OPS)  # deleted at once, no terminated status ever seen
    kube.on_create = lambda pod: terminated({"state": "reverted", "revert": "reverted"})
    changes = await fault().recover(ctx(kube), record(name()))
    assert changes is not None and f"revert-only helper {name('revert')}: agent reverted" in changes["message"]
    assert kube.created == [name("revert")] and set(kube.pods) == {(NS, "checkout-1")}
    revert = kube.deleted[-1]
    assert revert == name("revert")


async def test_recover_of_a_vanished_helper_fails_when_its_revert_fails() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.on_create = lambda pod: terminated(None, 137)  # the revert-only helper dies without a report too
    with pytest.raises(FaultError, match="without a report"):
        await fault().recover(ctx(kube), record(name()))


async def test_a_vanished_stress_pod_needs_no_revert() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    changes = await fault("CPUStress").recover(ctx(kube, {"kind": "CPUStress"}), record())
    assert changes == {"message": f"no helper pod {name(kind='CPUStress')} was left"} and kube.created == []


async def test_recover_runs_a_revert_only_helper_when_the_revert_failed() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.add_pod(name(), uid="helper", namespace=OPS)
    kube.pods[(OPS, name())]["status"] = terminated({"state": "revert-failed", "reason": "RevertFailed"}, 6)
    kube.on_create = lambda pod: terminated({"state": "reverted"})
    changes = await fault().recover(ctx(kube), record(name()))
    assert changes is not None and f"revert-only helper {name('revert')}: agent reverted" in changes["message"]
    assert kube.created == [name("revert")]
    assert set(kube.pods) == {(NS, "checkout-1")}  # both helpers removed, the target untouched


async def test_recover_fails_when_the_revert_only_helper_fails_too() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.add_pod(name(), uid="helper", namespace=OPS)
    kube.pods[(OPS, name())]["status"] = terminated(None, 137)
    kube.on_create = lambda pod: terminated({"state": "revert-failed", "reason": "RevertFailed", "error": "busy"}, 6)
    with pytest.raises(FaultError, match="RevertFailed"):
        await fault().recover(ctx(kube), record(name()))


async def test_a_stress_pod_is_never_reverted() -> None:
    kube = FakeKube()
    stress = {"kind": "CPUStress", "workers": 2}
    kube.add_pod(name(kind="CPUStress"), uid="helper", namespace=OPS)
    kube.pods[(OPS, name(kind="CPUStress"))]["status"] = terminated(None, 137)
    changes = await fault("CPUStress").recover(ctx(kube, stress), record())
    assert changes is not None and "without a report" in changes["message"]
    assert await fault("CPUStress").revert_lost(ctx(kube, stress), record()) == (
        "nothing to revert: the stress workers ended with their pod")
    assert kube.created == []


async def test_helper_lost() -> None:
    kube, f = FakeKube(), fault()
    assert await f.helper_lost(ctx(kube), record(name())) == (f"helper pod {name()} disappeared", False)
    kube.add_pod(name(), uid="helper", namespace=OPS)
    kube.pods[(OPS, name())]["status"] = running()
    assert await f.helper_lost(ctx(kube), record(name())) is None
    kube.pods[(OPS, name())]["status"] = running(ready=False)  # its agent removed its ready file, or the probe failed
    why_clean = await f.helper_lost(ctx(kube), record(name()))
    assert why_clean == (f"helper pod {name()} is no longer ready: its agent does not hold the fault", False)
    kube.pods[(OPS, name())]["metadata"]["deletionTimestamp"] = "now"  # SIGTERM: it reverts and reports
    assert await f.helper_lost(ctx(kube), record(name())) is None
    kube.pods[(OPS, name())]["status"] = terminated({"state": "reverted"})
    why_clean = await f.helper_lost(ctx(kube), record(name()))
    assert why_clean is not None and why_clean[1] is True and "ended early: agent reverted" in why_clean[0]


async def test_revert_lost_when_the_target_is_gone_too() -> None:
    kube = FakeKube()  # no target pod: its network namespace, and our qdisc, are gone with it
    assert "nothing to revert" in await fault().revert_lost(ctx(kube), record(name()))
    assert kube.created == []


def test_every_helper_kind_is_registered() -> None:
    kinds = [kind for kind in FAULTS if kind != "PodKill"]
    assert len(kinds) == 8
    for kind in kinds:
        impl = fault(kind)
        assert impl.kind == kind and impl.instant is False and impl.repeat_interval(ctx(FakeKube())) is None
        assert impl.needs_revert is kind.startswith("Network") and impl.helpers() is impl
    assert fault_for("PodKill").helpers() is None


def busy_node(kube: FakeKube, count: int, node: str = "node-9", phase: str = "Running") -> None:
    for i in range(count):
        kube.add_pod(f"other-helper-{i}", uid=f"h{i}", node=node, namespace=OPS,
                     labels={manifests.MANAGED_BY: manifests.OPERATOR})
        kube.pods[(OPS, f"other-helper-{i}")]["status"] = {"phase": phase}


async def test_past_the_helpers_per_node_cap_an_injection_fails_with_the_reason() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1", node="node-9")
    kube.on_create = lambda pod: running()
    busy_node(kube, 2)
    capped = dataclasses.replace(ctx(kube), max_helpers_per_node=2)
    with pytest.raises(FaultError, match=r"node node-9 already runs 2 helper pods .*--max-helpers-per-node 2"):
        await fault().apply(capped, record())
    assert kube.created == []
    # Finished helpers and other nodes do not count; under the cap it goes ahead.
    busy_node(kube, 2, phase="Succeeded")
    kube.add_pod("far-helper", uid="far", node="node-1", namespace=OPS,
                 labels={manifests.MANAGED_BY: manifests.OPERATOR})
    roomy = dataclasses.replace(ctx(kube), max_helpers_per_node=3)
    assert (await fault().apply(roomy, record()))["helper_pod"] == name()


async def test_a_revert_is_never_held_back_by_the_cap() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1", node="node-9")
    busy_node(kube, 5)
    kube.on_create = lambda pod: terminated({"state": "reverted", "reverted": True})
    capped = dataclasses.replace(ctx(kube), max_helpers_per_node=1)
    done = await fault().revert_lost(capped, record(helper=name()))
    assert name("revert") in kube.created and "revert-only helper" in done
