"""The startup sweep of helper pods whose experiment is finished or gone (engine/lost_helpers.py), over an in-memory
KubeApi."""

from __future__ import annotations

from chaos_operator.engine import lost_helpers
from chaos_operator.faults.helpers import pod_spec
from tests.support.fake_kube import NS, FakeKube


def leftover(kube: FakeKube, pod_name: str, owner: tuple[str, str] | None, role: str = "fault",
             phase: str = "Running") -> None:
    refs = [{"kind": "ChaosExperiment", "name": owner[0], "uid": owner[1]}] if owner else []
    kube.add_pod(pod_name, uid=pod_name, labels={pod_spec.MANAGED_BY: pod_spec.OPERATOR,
                                                 pod_spec.ROLE_LABEL: role}, ownerReferences=refs)
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
    deleted = await lost_helpers.sweep(kube, ())  # type: ignore[arg-type]
    assert sorted(deleted) == [f"{NS}/of-done", f"{NS}/of-gone", f"{NS}/of-old-done", f"{NS}/revert-ended"]
    assert sorted(n for _, n in kube.pods) == ["no-owner", "of-live", "revert-running"]
    assert await lost_helpers.sweep(kube, (NS,)) == []  # type: ignore[arg-type]


async def test_sweep_never_raises() -> None:
    kube = FakeKube()
    kube.fail_listing = RuntimeError("API down")
    assert await lost_helpers.sweep(kube, (NS,)) == []  # type: ignore[arg-type]
