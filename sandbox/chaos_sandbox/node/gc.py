"""Garbage collection through ownerReferences, as kube-controller-manager's garbage collector does it.

- **Background** (the default): an object whose owners are all gone is deleted (a Job's pods after the Job, a
  ReplicaSet after its Deployment, its pods after that). Pods go through the node's graceful deletion.
- **Foreground** (`propagationPolicy: Foreground`): the store gives the owner the `foregroundDeletion` finalizer
  (`emulator/store.py`); here its dependents are deleted, and once none with `blockOwnerDeletion` is left the
  finalizer is removed, so the owner goes last.
- **Orphan** (`propagationPolicy: Orphan`, `kubectl delete --cascade=orphan`): the `orphan` finalizer; here the
  owner's ownerReferences are removed from its dependents, then the finalizer, so the dependents stay.

A plain function over the store, run in the node's control loop (a bare emulator without a node collects nothing,
as an API server without a controller manager would not).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from chaos_sandbox.emulator.patching import MERGE_PATCH
from chaos_sandbox.emulator.resources import ApiError, ResourceType
from chaos_sandbox.emulator.server import Emulator
from chaos_sandbox.emulator.store import Obj

FOREGROUND, ORPHAN = "foregroundDeletion", "orphan"
Found = tuple[ResourceType, Obj]


def _types(emulator: Emulator) -> dict[tuple[str, str], ResourceType]:
    types: dict[tuple[str, str], ResourceType] = {}
    for res, _ in emulator.entries():
        rtype = emulator.resource_type(res)
        types.setdefault(rtype.key, rtype)
    return types


def _refs(obj: Obj) -> list[dict[str, Any]]:
    return [r for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if isinstance(r, dict)]


def orphaned(obj: Obj, live: set[str]) -> bool:
    """Whether background collection deletes `obj`: it has owners, and none of them exists any more."""
    refs = _refs(obj)
    return bool(refs) and not any(str(r.get("uid")) in live for r in refs) \
        and not (obj.get("metadata") or {}).get("deletionTimestamp")


def _write(emulator: Emulator, rtype: ResourceType, obj: Obj, patch: Obj) -> None:
    meta = obj["metadata"]
    try:
        emulator.store.patch(rtype, meta.get("namespace"), meta["name"], patch, MERGE_PATCH)
    except ApiError as exc:
        if exc.status != 404:
            raise


def _delete(emulator: Emulator, rtype: ResourceType, obj: Obj) -> None:
    meta = obj["metadata"]
    try:
        emulator.store.delete(rtype, meta.get("namespace"), meta["name"], {})
    except ApiError as exc:
        if exc.status != 404:
            raise


def collect_garbage(emulator: Emulator) -> None:
    types = _types(emulator)
    everything: list[Found] = [(types[key[:2]], obj) for key, obj in list(emulator.store.objects.items())
                               if key[:2] in types]
    live = {str(obj["metadata"]["uid"]) for _, obj in everything}
    dependents: dict[str, list[Found]] = defaultdict(list)
    for rtype, obj in everything:
        for ref in _refs(obj):
            dependents[str(ref.get("uid"))].append((rtype, obj))
    for rtype, obj in everything:
        if orphaned(obj, live):
            _delete(emulator, rtype, obj)
    for rtype, owner in everything:
        meta = owner["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if not meta.get("deletionTimestamp") or not {FOREGROUND, ORPHAN} & set(finalizers):
            continue
        uid = str(meta["uid"])
        mine = dependents.get(uid, [])
        if ORPHAN in finalizers:
            for dep_type, dep in mine:
                _write(emulator, dep_type, dep, {"metadata": {"ownerReferences": [
                    r for r in _refs(dep) if str(r.get("uid")) != uid] or None}})
            finalizers.remove(ORPHAN)
        elif FOREGROUND in finalizers:
            for dep_type, dep in mine:
                _delete(emulator, dep_type, dep)
            blocking = [dep for _, dep in mine if any(
                str(r.get("uid")) == uid and r.get("blockOwnerDeletion") for r in _refs(dep))]
            if blocking:
                continue  # the owner waits until its blocking dependents are really gone
            finalizers.remove(FOREGROUND)
        _write(emulator, rtype, owner, {"metadata": {"finalizers": finalizers or None}})
