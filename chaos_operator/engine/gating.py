"""Checks made before an experiment touches anything (the kill switch, the namespace rules), and the pause
check a running experiment makes after each step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chaos_operator.models.status import clip
from chaos_operator.ports import KubeApi
from chaos_operator.targeting.selection import NamespaceRefused, check_namespace

OPT_IN_LABEL = ("chaosoperator.dev/allow", "true")


def never_paused() -> str | None:
    return None


@dataclass(frozen=True)
class Gates:
    paused: Callable[[], str | None] = never_paused  # the kill switch: None while not paused, else why
    require_opt_in: bool = False  # act only in namespaces labelled chaosoperator.dev/allow=true
    # Fault kinds this installation does not run (the chart drops PodKill's pods delete grant with it).
    disabled_faults: frozenset[str] = frozenset()


async def refusal(kube: KubeApi, namespace: str, gates: Gates, operator_namespace: str,
                  allowed: frozenset[str] | None, protected: frozenset[str], kind: str = "") -> tuple[str, str] | None:
    """(reason, message) when a new experiment must end Failed before anything is touched, else None."""
    why = gates.paused()
    if why is not None:
        return "Paused", clip(f"the chaos operator is paused (kill switch): {why}")
    if kind in gates.disabled_faults:
        return "FaultDisabled", (f"{kind} is disabled in this installation (--disable-fault {kind}; the chart's "
                                 f"value faults.podKill.enabled=false also withholds the RBAC it needs)")
    try:
        check_namespace(namespace, operator_namespace, allowed, protected)
    except NamespaceRefused as exc:
        return "NamespaceRefused", str(exc)
    if gates.require_opt_in:
        key, value = OPT_IN_LABEL
        ns = await kube.get_namespace(namespace)
        labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
        if labels.get(key) != value:
            return "NamespaceRefused", (f"namespace {namespace} has not opted in: the operator runs with "
                                        f"--require-opt-in and acts only in namespaces labelled {key}={value}")
    return None


def abort_reason(abort_requested: bool, gates: Gates, phase: str) -> tuple[str, str] | None:
    """Why a stopped experiment ends Aborted (spec.abort, then the kill switch), or None (operator stopping)."""
    if abort_requested:
        return "Aborted", f"spec.abort was set during {phase}"
    why = gates.paused()
    if why is not None:
        return "Paused", clip(f"the kill switch stopped it during {phase}: {why}")
    return None
