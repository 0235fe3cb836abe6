"""What a write over HTTP goes through before the store keeps it (`admit_for`), and a server-side apply request
(`apply_request`): the emulator's routes call these."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chaos_sandbox.emulator.admission import Admission, DryRun
from chaos_sandbox.emulator.apply import check_request, server_side_apply
from chaos_sandbox.emulator.fields import track_update
from chaos_sandbox.emulator.http import Target
from chaos_sandbox.emulator.mergekeys import Shape, object_shape
from chaos_sandbox.emulator.rbac import Identity, Request
from chaos_sandbox.emulator.resources import (
    CRD_GROUP,
    CRD_PLURAL,
    ResourceType,
    crd_resources,
    is_builtin,
    secret_data,
)
from chaos_sandbox.emulator.store import Admit, Obj, Store
from chaos_sandbox.emulator.vap import Attempt, admit


def policies_for(store: Store, find: Callable[[str], ResourceType], allow: Callable[[Identity, Request], Any],
                 who: Identity, rtype: ResourceType, target: Target,
                 dry_run: bool) -> Callable[[Obj, Obj | None], list[str]] | None:
    """The ValidatingAdmissionPolicies step of a create or update by `who`, if any policy is stored."""
    group = "admissionregistration.k8s.io/v1"
    policies = store.list(find(f"{group}/validatingadmissionpolicies"), None)
    if not policies:
        return None
    bindings = store.list(find(f"{group}/validatingadmissionpolicybindings"), None)

    def check(obj: Obj, old: Obj | None) -> list[str]:
        namespace = store.find(find("v1/namespaces"), None, target.namespace) if target.namespace else None
        at = Attempt("CREATE" if old is None else "UPDATE", rtype.group, rtype.version, rtype.plural,
                     target.subresource or "", target.namespace or "", rtype.kind, who, dry_run)
        return admit(policies, bindings, at, obj, old, namespace, lambda req: allow(who, req))
    return check


def shape_of(rtype: ResourceType, admission: Admission) -> Shape:
    """Which lists of this kind's objects are associative (merged by key under server-side apply)."""
    return object_shape(rtype.kind, is_builtin(rtype), admission.schema)


def admit_for(admission: Admission, rtype: ResourceType, sub: str, manager: str, managed: list[Any] | None) -> Admit:
    """The kind's own rules (a Secret's stringData, a CRD's names, a custom object's schema), field ownership
    (an update's, or the managedFields an apply computed), then `?dryRun` stops the write."""
    def admit(obj: Obj, old: Obj | None) -> Obj:
        if rtype.key == ("", "secrets"):
            obj = secret_data(obj)
        elif rtype.key == (CRD_GROUP, CRD_PLURAL):
            crd_resources(obj)  # 422 before storing an unusable CRD
        if admission.schema is not None:
            obj = admission.check(obj, old)
        if admission.policies is not None:
            admission.warnings.extend(admission.policies(obj, old))
        if managed is None:
            obj = track_update(obj, old, manager, sub, rtype.has_status, shape_of(rtype, admission))
        elif managed:
            obj["metadata"]["managedFields"] = managed
        else:
            obj["metadata"].pop("managedFields", None)
        if admission.dry_run:
            raise DryRun(obj)
        return obj
    return admit


def apply_request(store: Store, rtype: ResourceType, target: Target, data: Any, params: Mapping[str, str],
                  admission: Admission) -> tuple[Obj, int]:
    """Serve `PATCH` with `application/apply-patch+yaml`: the object stored and 201 (created) or 200."""
    namespace, name, sub = target.namespace, target.name or "", target.subresource or ""
    manager = check_request(rtype, name, data, params)
    live = store.find(rtype, namespace, name)
    if live is None and sub:
        store.get(rtype, namespace, name)  # the 404 of a missing object's subresource
    obj, managed = server_side_apply(rtype, live, data, manager, params.get("force") == "true", sub,
                                     shape_of(rtype, admission))
    admit = admit_for(admission, rtype, sub, manager, managed)
    if live is None:
        return store.create(rtype, namespace, obj, admit), 201
    return store.replace(rtype, namespace, name, obj, sub or None, admit), 200
