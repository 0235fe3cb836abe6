"""The one reader of a Pod's JSON: the few facts targeting, faults and the engine need, with safe defaults.

Code elsewhere takes a `PodInfo` from `pod_info` rather than walking the raw dict (whose every level may be
missing or null as the API server returns it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Owner:
    kind: str
    name: str
    uid: str


@dataclass(frozen=True)
class PodInfo:
    name: str
    namespace: str
    uid: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    node_name: str | None = None
    pod_ip: str | None = None
    phase: str = "Unknown"
    ready: bool = False  # phase Running and condition Ready is "True"
    terminating: bool = False  # metadata.deletionTimestamp is set
    owner_kind: str | None = None  # the controlling owner (e.g. ReplicaSet), if any
    owner_name: str | None = None
    owners: tuple[Owner, ...] = ()  # every owner reference with a uid (kind and name "" when missing)
    pod_ips: tuple[str, ...] = ()  # status.podIPs, else status.podIP

    def owned_by(self, kind: str) -> Owner | None:
        """The first owner of this kind that names itself whole (name and uid)."""
        return next((owner for owner in self.owners if owner.kind == kind and owner.name), None)


def pod_info(obj: Mapping[str, Any]) -> PodInfo:
    """Parse a Pod as the API server returns it (camelCase JSON); missing fields get safe defaults."""
    meta = _mapping(obj.get("metadata"))
    spec = _mapping(obj.get("spec"))
    status = _mapping(obj.get("status"))
    phase = str(status.get("phase") or "Unknown")
    owner = _controller(meta.get("ownerReferences"))
    labels = {str(k): str(v) for k, v in _mapping(meta.get("labels")).items()}
    refs = [_mapping(r) for r in _list(meta.get("ownerReferences"))]
    ips = [_mapping(p).get("ip") for p in _list(status.get("podIPs"))]
    return PodInfo(
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
        uid=str(meta.get("uid") or ""),
        labels=labels,
        annotations={str(k): str(v) for k, v in _mapping(meta.get("annotations")).items()},
        node_name=_optional_str(spec.get("nodeName")),
        pod_ip=_optional_str(status.get("podIP")),
        phase=phase,
        ready=phase == "Running" and _condition_true(status.get("conditions"), "Ready"),
        terminating=meta.get("deletionTimestamp") is not None,
        owner_kind=_optional_str(owner.get("kind")),
        owner_name=_optional_str(owner.get("name")),
        owners=tuple(Owner(str(r.get("kind") or ""), str(r.get("name") or ""), str(r["uid"])) for r in refs
                     if r.get("uid")),
        pod_ips=tuple(str(ip) for ip in (ips or [status.get("podIP")]) if ip),
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


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
