"""HelperPodFault (create/adopt/wait/delete/revert-only) and the startup sweep, over an in-memory KubeApi."""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from chaos_operator.engine import orphans
from chaos_operator.faults import helper_pod, manifests
from chaos_operator.faults.base import FaultContext, FaultError
from chaos_operator.faults.registry import fault_for
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import Injection, RecordState

NS = "shop"
UID = "0d5e8f3a-91c2-4b7e-8a61-5f2c9d7e3b10"
EXP_UID = "7b1c2d3e-4f50-4a6b-9c8d-0e1f2a3b4c5d"
Pod = dict[str, Any]


class FakeKube:
    """Pods and experiments in memory. `on_create(pod)` may return a status for a new pod (a kubelet starting it);
    with `graceful`, a deletion first shows the agent's final report, as a SIGTERMed helper would."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], Pod] = {}
        self.experiments: dict[tuple[str, str], dict[str, Any]] = {}
        self.on_create: Callable[[Pod], dict[str, Any] | None] = lambda pod: None
        self.graceful: dict[str, Any] | None = None
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.fail_list = False

    def add_pod(self, name: str, uid: str = UID, node: str | None = "n1", **meta: Any) -> Pod:
        pod = {"metadata": {"name": name, "namespace": NS, "uid": uid, **meta}, "spec": {"nodeName": node}}
        self.pods[(NS, name)] = pod
        return pod

    async def get_pod(self, namespace: str, name: str) -> Pod | None:
        pod = self.pods.get((namespace, name))
        if pod is not None and pod["metadata"].get("deletionTimestamp"):
            pod["_gets"] = pod.get("_gets", 0) + 1
            if pod["_gets"] > 2:
                del self.pods[(namespace, name)]
                return None
        return copy.deepcopy(pod)

    async def create_pod(self, namespace: str, body: Mapping[str, Any]) -> Pod | None:
        name = body["metadata"]["name"]
        if (namespace, name) in self.pods:
            return None
        pod = copy.deepcopy(dict(body))
        pod["metadata"]["uid"] = f"pod-{len(self.created)}"
        status = self.on_create(pod)
        if status is not None:
            pod["status"] = status
        self.pods[(namespace, name)] = pod
        self.created.append(name)
        return copy.deepcopy(pod)

    async def delete_pod_by_name(self, namespace: str, name: str, grace_period_seconds: int | None) -> bool:
        pod = self.pods.get((namespace, name))
        if pod is None:
            return False
        self.deleted.append(name)
        if self.graceful is not None and "terminated" not in json.dumps(pod.get("status")):
            pod["metadata"]["deletionTimestamp"] = "now"
            pod["status"] = terminated(self.graceful)
        else:
            del self.pods[(namespace, name)]
        return True

    async def list_pods(self, namespace: str, label_selector: str) -> list[Pod]:
        if self.fail_list:
            raise RuntimeError("API down")
        key, value = label_selector.split("=")
        return [copy.deepcopy(p) for (ns, _), p in self.pods.items()
                if ns == namespace and (p["metadata"].get("labels") or {}).get(key) == value]

    async def list_pods_all_namespaces(self, label_selector: str) -> list[Pod]:
        return await self.list_pods(NS, label_selector)

    async def get_experiment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.experiments.get((namespace, name)))


class FastClock:
    """Monotonic time that moves a second on every reading: bounded waits end after a few real polls."""

    def __init__(self, step: float = 1.0) -> None:
        self.t, self.step = 0.0, step

    def now(self) -> datetime.datetime:
        return datetime.datetime(2025, 3, 4, tzinfo=datetime.UTC)

    def monotonic(self) -> float:
        self.t += self.step
        return self.t


def running() -> dict[str, Any]:
    return {"phase": "Running", "containerStatuses": [{"name": "agent", "state": {"running": {}}}]}


def terminated(report: dict[str, Any] | None, code: int = 0) -> dict[str, Any]:
    term: dict[str, Any] = {"exitCode": code, **({"message": json.dumps(report)} if report else {})}
    return {"phase": "Succeeded" if code == 0 else "Failed",
            "containerStatuses": [{"name": "agent", "state": {"terminated": term}}]}


def ctx(kube: FakeKube, fault: dict[str, Any] | None = None, step: float = 1.0) -> FaultContext:
    spec = ExperimentSpec.model_validate({
        "target": {"selector": {"matchLabels": {"app": "checkout"}}},
        "fault": fault or {"kind": "NetworkLatency", "latency": "100ms"},
        "load": {"service": {"name": "checkout", "port": 8080}}, "phases": {"chaos": "30s"}})
    return FaultContext(kube=kube, clock=FastClock(step), namespace=NS, experiment="exp", spec=spec,  # type: ignore[arg-type]
                        label_selector="app=checkout", ready_before=1, experiment_uid=EXP_UID, image="img:1")


def record(helper: str | None = None) -> Injection:
    return Injection(target="checkout-1", uid=UID, state=RecordState.INJECTED, helper_pod=helper)


def fault(kind: str = "NetworkLatency") -> helper_pod.HelperPodFault:
    impl = fault_for(kind)
    assert isinstance(impl, helper_pod.HelperPodFault)
    return impl


def name(role: str = "fault", kind: str = "NetworkLatency") -> str:
    return manifests.helper_name("exp", EXP_UID, UID, kind, role)  # type: ignore[arg-type]


async def test_apply_creates_a_pinned_helper_and_waits_until_it_holds() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1", node="node-9")
    kube.on_create = lambda pod: running()
    changes = await fault().apply(ctx(kube), record())
    assert changes["helper_pod"] == name() and "node-9" in changes["message"]
    pod = kube.pods[(NS, name())]
    assert pod["spec"]["nodeName"] == "node-9" and pod["spec"]["containers"][0]["image"] == "img:1"
    assert kube.created == [name()]


async def test_apply_adopts_its_own_helper_from_an_earlier_attempt() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.add_pod(name(), uid="helper", ownerReferences=[{"kind": "ChaosExperiment", "uid": EXP_UID}])
    kube.pods[(NS, name())]["status"] = running()
    assert (await fault().apply(ctx(kube), record()))["helper_pod"] == name()
    assert kube.created == [] and kube.deleted == []


async def test_apply_refuses_a_pod_of_that_name_it_does_not_own() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.add_pod(name(), uid="other", ownerReferences=[{"kind": "ChaosExperiment", "uid": "someone-else"}])
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
    ({"phase": "Pending"}, "did not hold the fault in time"),
])
async def test_apply_fails_with_the_agents_words_and_removes_the_helper(status: dict[str, Any], error: str) -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.on_create = lambda pod: status
    with pytest.raises(FaultError, match=error):
        await fault().apply(ctx(kube, step=10.0), record())
    assert (NS, name()) not in kube.pods and kube.deleted == [name()]


async def test_recover_reads_the_report_while_the_helper_stops() -> None:
    kube = FakeKube()
    kube.add_pod(name(), uid="helper")
    kube.pods[(NS, name())]["status"] = running()
    kube.graceful = {"state": "reverted", "revert": "reverted"}
    changes = await fault().recover(ctx(kube), record(name()))
    assert changes == {"message": f"helper pod {name()} deleted; agent reverted"}
    assert (NS, name()) not in kube.pods


async def test_recover_is_idempotent_and_finds_the_helper_by_its_name() -> None:
    kube = FakeKube()
    assert await fault().recover(ctx(kube), record()) == {"message": f"no helper pod {name()} was left"}
    kube.add_pod(name(), uid="helper")  # created, but the record never learnt it (a crash in between)
    assert await fault().recover(ctx(kube), record()) == {"message": f"helper pod {name()} deleted"}
    assert kube.deleted == [name()]


async def test_recover_runs_a_revert_only_helper_when_the_revert_failed() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.add_pod(name(), uid="helper")
    kube.pods[(NS, name())]["status"] = terminated({"state": "revert-failed", "reason": "RevertFailed"}, 6)
    kube.on_create = lambda pod: terminated({"state": "reverted"})
    changes = await fault().recover(ctx(kube), record(name()))
    assert changes is not None and f"revert-only helper {name('revert')}: agent reverted" in changes["message"]
    assert kube.created == [name("revert")]
    assert set(kube.pods) == {(NS, "checkout-1")}  # both helpers removed, the target untouched


async def test_recover_fails_when_the_revert_only_helper_fails_too() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    kube.add_pod(name(), uid="helper")
    kube.pods[(NS, name())]["status"] = terminated(None, 137)
    kube.on_create = lambda pod: terminated({"state": "revert-failed", "reason": "RevertFailed", "error": "busy"}, 6)
    with pytest.raises(FaultError, match="RevertFailed"):
        await fault().recover(ctx(kube), record(name()))


async def test_a_stress_pod_is_never_reverted() -> None:
    kube = FakeKube()
    stress = {"kind": "CPUStress", "workers": 2}
    kube.add_pod(name(kind="CPUStress"), uid="helper")
    kube.pods[(NS, name(kind="CPUStress"))]["status"] = terminated(None, 137)
    changes = await fault("CPUStress").recover(ctx(kube, stress), record())
    assert changes is not None and "without a report" in changes["message"]
    assert await fault("CPUStress").revert_lost(ctx(kube, stress), record()) == (
        "nothing to revert: the stress workers ended with their pod")
    assert kube.created == []


async def test_helper_lost() -> None:
    kube, f = FakeKube(), fault()
    assert await f.helper_lost(ctx(kube), record(name())) == (f"helper pod {name()} disappeared", False)
    kube.add_pod(name(), uid="helper")
    kube.pods[(NS, name())]["status"] = running()
    assert await f.helper_lost(ctx(kube), record(name())) is None
    kube.pods[(NS, name())]["metadata"]["deletionTimestamp"] = "now"  # SIGTERM: it reverts and reports
    assert await f.helper_lost(ctx(kube), record(name())) is None
    kube.pods[(NS, name())]["status"] = terminated({"state": "reverted"})
    why_clean = await f.helper_lost(ctx(kube), record(name()))
    assert why_clean is not None and why_clean[1] is True and "ended early: agent reverted" in why_clean[0]


async def test_revert_lost_when_the_target_is_gone_too() -> None:
    kube = FakeKube()  # no target pod: its network namespace, and our qdisc, are gone with it
    assert "nothing to revert" in await fault().revert_lost(ctx(kube), record(name()))
    assert kube.created == []


def leftover(kube: FakeKube, pod_name: str, owner: tuple[str, str] | None, role: str = "fault",
             phase: str = "Running") -> None:
    refs = [{"kind": "ChaosExperiment", "name": owner[0], "uid": owner[1]}] if owner else []
    kube.add_pod(pod_name, uid=pod_name, labels={manifests.MANAGED_BY: manifests.OPERATOR,
                                                 manifests.ROLE_LABEL: role}, ownerReferences=refs)
    kube.pods[(NS, pod_name)]["status"] = {"phase": phase}


async def test_sweep_deletes_helpers_of_finished_or_gone_experiments() -> None:
    kube = FakeKube()
    kube.experiments[(NS, "done")] = {"metadata": {"uid": "u-done"}, "status": {"phase": "Completed"}}
    kube.experiments[(NS, "live")] = {"metadata": {"uid": "u-live"}, "status": {"phase": "Chaos"}}
    leftover(kube, "of-done", ("done", "u-done"))
    leftover(kube, "of-gone", ("gone", "u-gone"))
    leftover(kube, "of-old-done", ("done", "u-older"))  # same name, an earlier experiment
    leftover(kube, "of-live", ("live", "u-live"))  # its daemon recovers it
    leftover(kube, "revert-running", ("gone", "u-gone"), role="revert")  # let it finish its revert
    leftover(kube, "revert-ended", ("gone", "u-gone"), role="revert", phase="Succeeded")
    leftover(kube, "no-owner", None)
    deleted = await orphans.sweep(kube, ())  # type: ignore[arg-type]
    assert sorted(deleted) == [f"{NS}/of-done", f"{NS}/of-gone", f"{NS}/of-old-done", f"{NS}/revert-ended"]
    assert sorted(n for _, n in kube.pods) == ["no-owner", "of-live", "revert-running"]
    assert await orphans.sweep(kube, (NS,)) == []  # type: ignore[arg-type]


async def test_sweep_never_raises() -> None:
    kube = FakeKube()
    kube.fail_list = True
    assert await orphans.sweep(kube, (NS,)) == []  # type: ignore[arg-type]


def test_every_helper_kind_is_registered() -> None:
    for kind in manifests.MODES:
        impl = fault(kind)
        assert impl.kind == kind and impl.instant is False and impl.repeat_interval(ctx(FakeKube())) is None
        assert impl.needs_revert is (kind in manifests.NETWORK_KINDS)
