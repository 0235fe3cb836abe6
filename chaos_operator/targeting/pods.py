"""The few facts about a Pod that targeting and faults need, parsed from its JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PodInfo:
    name: str
    namespace: str
    uid: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    node_name: str | None = None
    pod_ip: str | None = None
    phase: str = "Unknown"
    ready: bool = False  # phase Running and condition Ready is "True"
    terminating: bool = False  # metadata.deletionTimestamp is set
    owner_kind: str | None = None  # the controlling owner (e.g. ReplicaSet), if any
    owner_name: str | None = None


def pod_info(obj: Mapping[str, Any]) -> PodInfo:
    """Parse a Pod as the API server returns it (camelCase JSON); missing fields get safe defaults."""
    meta = _mapping(obj.get("metadata"))
    spec = _mapping(obj.get("spec"))
    status = _mapping(obj.get("status"))
    phase = str(status.get("phase") or "Unknown")
    owner = _controller(meta.get("ownerReferences"))
    labels = {str(k): str(v) for k, v in _mapping(meta.get("labels")).items()}
    return PodInfo(
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
        uid=str(meta.get("uid") or ""),
        labels=labels,
        node_name=_optional_str(spec.get("nodeName")),
        pod_ip=_optional_str(status.get("podIP")),
        phase=phase,
        ready=phase == "Running" and _condition_true(status.get("conditions"), "Ready"),
        terminating=meta.get("deletionTimestamp") is not None,
        owner_kind=_optional_str(owner.get("kind")),
        owner_name=_optional_str(owner.get("name")),
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _optional_str(value: Any) -> str | None:
    return str(value) if value else None


def _condition_true(conditions: Any, kind: str) -> bool:
    if not isinstance(conditions, list):
        return False
    return any(_mapping(c).get("type") == kind and _mapping(c).get("status") == "True" for c in conditions)


def _controller(refs: Any) -> Mapping[str, Any]:
    """The owner reference marked controller, else the first one, else nothing."""
    if not isinstance(refs, list) or not refs:
        return {}
    owners = [_mapping(r) for r in refs]
    return next((r for r in owners if r.get("controller") is True), owners[0])
