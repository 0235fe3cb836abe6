"""Discovery and OpenAPI bodies for the API emulator, built from kmock's resource declarations.

kmock's own `/api/v1` body says `groupVersion: "/v1"` and repeats short names on subresources, which
kubectl rejects or warns about; kubectl's `apply` also insists on an OpenAPI v3 document that declares
the `fieldValidation` query parameter before it sends anything. These builders cover both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kmock import ResourceInfo, resource

Entries = Iterable[tuple[resource, ResourceInfo]]


def group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def api_resource_list(group: str, version: str, entries: Entries) -> dict[str, Any]:
    """The `APIResourceList` for one group/version, with subresources listed the way a real server does."""
    resources: list[dict[str, Any]] = []
    for res, info in sorted(entries, key=lambda entry: entry[0].plural or ""):
        if res.group != group or res.version != version:
            continue
        kind = info.kind or (res.plural or "").capitalize()
        resources.append({
            "name": res.plural, "singularName": info.singular or kind.lower(), "namespaced": bool(info.namespaced),
            "kind": kind, "verbs": sorted(info.verbs), "shortNames": sorted(info.shortnames),
            "categories": sorted(info.categories),
        })
        for sub in sorted(info.subresources):
            resources.append({"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": bool(info.namespaced),
                              "kind": "Scale" if sub == "scale" else kind, "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version(group, version),
            "resources": resources}


def _openapi_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_root(entries: Entries) -> dict[str, Any]:
    """`/openapi/v3`: one document per served group/version."""
    paths = {}
    for group, version in sorted({(res.group or "", res.version or "") for res, _ in entries}):
        path = _openapi_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}"}
    return {"paths": paths}


def openapi_group_version(path: str, entries: Entries) -> dict[str, Any] | None:
    """A skeleton OpenAPI v3 document: only what kubectl looks for (the PATCH operation of each kind
    and its `fieldValidation` parameter). There are no schemas: the emulator validates nothing."""
    paths: dict[str, Any] = {}
    for res, info in entries:
        group, version = res.group or "", res.version or ""
        if _openapi_path(group, version) != path.strip("/"):
            continue
        prefix = f"/{path.strip('/')}" + ("/namespaces/{namespace}" if info.namespaced else "")
        gvk = {"group": group, "version": version, "kind": info.kind}
        param = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        paths[f"{prefix}/{res.plural}/{{name}}"] = {
            "patch": {"x-kubernetes-group-version-kind": gvk, "parameters": [param],
                      "responses": {"200": {"description": "OK"}}},
        }
    if not paths:
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "emulated"}, "paths": paths}
