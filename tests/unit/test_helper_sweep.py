"""The startup sweep of helper pods whose experiment is finished or gone (engine/lost_helpers.py), and the fail-closed
deletion of one experiment's helpers, over an in-memory KubeApi: helpers live in the operator's namespace and name
their experiment (in a tenant's namespace) by labels."""

from __future__ import annotations

from chaos_operator.engine import lost_helpers
from chaos_operator.faults.helpers import pod_spec
from tests.support.fake_kube import NS, OPS, FakeKube


def leftover(kube: FakeKube, pod_name: str, owner: tuple[str, str] | None, role: str = "fault",
             phase: str = "Running", namespace: str = OPS) -> None:
    labels = {pod_spec.MANAGED_BY: pod_spec.OPERATOR, pod_spec.ROLE_LABEL: role}
    notes = {}
    if owner:
        labels |= {pod_spec.EXPERIMENT_LABEL: owner[0][:63], pod_spec.EXPERIMENT_NS_LABEL: NS,
                   pod_spec.EXPERIMENT_UID_LABEL: owner[1]}
        notes = {pod_spec.EXPERIMENT_ANNOTATION: owner[0]}
    kube.add_pod(pod_name, uid=pod_name, namespace=namespace, labels=labels, annotations=notes)
    kube.pods[(namespace, pod_name)]["status"] = {"phase": phase}


async def test_sweep_deletes_helpers_of_finished_or_gone_experiments() -> None:
    kube = FakeKube()
    long_name = "x" * 80  # longer than a label value: the annotation names it
    kube.experiments[(NS, "done")] = {"metadata": {"uid": "u-done"}, "status": {"phase": "Completed"}}
    kube.experiments[(NS, "live")] = {"metadata": {"uid": "u-live"}, "status": {"phase": "Chaos"}}
    kube.experiments[(NS, long_name)] = {"metadata": {"uid": "u-long"}, "status": {"phase": "Chaos"}}
    leftover(kube, "of-done", ("done", "u-done"))
    leftover(kube, "of-gone", ("gone", "u-gone"))
    leftover(kube, "of-old-done", ("done", "u-older"))  # same name, an earlier experiment
    leftover(kube, "of-live", ("live", "u-live"))  # its daemon recovers it
    leftover(kube, "of-long", (long_name, "u-long"))  # running: found by its full name
    leftover(kube, "revert-running", ("gone", "u-gone"), role="revert")  # let it finish its revert
    leftover(kube, "revert-ended", ("gone", "u-gone"), role="revert", phase="Succeeded")
    leftover(kube, "no-owner", None)
    leftover(kube, "in-a-tenant", ("gone", "u-gone"), namespace=NS)  # not where helpers live: not looked at
    deleted = await lost_helpers.sweep(kube, OPS)  # type: ignore[arg-type]
    assert sorted(deleted) == [f"{OPS}/of-done", f"{OPS}/of-gone", f"{OPS}/of-old-done", f"{OPS}/revert-ended"]
    assert sorted(n for _, n in kube.pods) == ["in-a-tenant", "no-owner", "of-live", "of-long", "revert-running"]
    assert await lost_helpers.sweep(kube, OPS) == []  # type: ignore[arg-type]


async def test_delete_helpers_of_one_experiment_by_its_uid_label() -> None:
    kube = FakeKube()
    leftover(kube, "mine", ("exp", "u-1"))
    leftover(kube, "mine-reverting", ("exp", "u-1"), role="revert")
    leftover(kube, "other", ("exp", "u-2"))
    assert await lost_helpers.delete_helpers_of(kube, OPS, "u-1") == ["mine"]  # type: ignore[arg-type]
    assert sorted(n for _, n in kube.pods) == ["mine-reverting", "other"]


async def test_sweep_never_raises() -> None:
    kube = FakeKube()
    kube.fail_listing = RuntimeError("API down")
    assert await lost_helpers.sweep(kube, OPS) == []  # type: ignore[arg-type]
