"""Test support: the helper pod and agent argv a fault module builds for a fault model, without a cluster.

The operator builds them in HelperPodFault._helper from a FaultContext; tests call the same pure methods."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaos_operator.faults.helpers.pod import HelperPodFault, Run
from chaos_operator.faults.helpers.pod_spec import Helper, Role
from chaos_operator.faults.registry import fault_for


def helper_fault(kind: str) -> HelperPodFault[Any]:
    impl = fault_for(kind)
    assert isinstance(impl, HelperPodFault)
    return impl


def helper(fault: Any, *, experiment: str = "exp", experiment_uid: str, namespace: str, target_uid: str,
           node_name: str, image: str, chaos_s: float, role: Role = "fault",
           experiment_namespace: str | None = None) -> Helper:
    """``namespace`` is the helper's (the operator's); the experiment's defaults to the same."""
    impl = helper_fault(fault.kind)
    return Helper(experiment=experiment, experiment_uid=experiment_uid, namespace=namespace,
                  experiment_namespace=experiment_namespace or namespace, target_uid=target_uid,
                  node_name=node_name, image=image, kind=impl.kind, family=impl.family, chaos_s=chaos_s, role=role)


def pod(fault: Any, *, owner: str | None = None, destinations: Sequence[str] = (), **identity: Any) -> dict[str, Any]:
    """The helper pod of ``fault`` for the given identity (see ``helper``); owner defaults to no marker."""
    h = helper(fault, **identity)
    return helper_fault(fault.kind).pod(h, fault, Run(h.target_uid, h.chaos_s, h.role, owner, destinations))


def argv(fault: Any, target_uid: str, chaos_s: float = 120.0, role: Role = "fault", owner: str | None = None,
         destinations: Sequence[str] = ()) -> list[str]:
    return helper_fault(fault.kind).needs(fault, Run(target_uid, chaos_s, role, owner, destinations)).args
