"""OpenAPI v3 documents for the API emulator, built from what it serves.

kubectl reads them twice: `apply` looks for the `fieldValidation` parameter of each kind's PATCH operation
before it sends anything, and `explain` walks the schema whose `x-kubernetes-group-version-kind` names the
kind. A CRD's documents carry its `openAPIV3Schema` (with `metadata` pointing at `ObjectMeta`, as a real
server publishes it); built-in kinds get a skeleton with metadata only: the emulator has no schema for them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from chaos_sandbox.emulator.resources import ResKey, ResourceInfo

Entries = Iterable[tuple[ResKey, ResourceInfo]]
META_REF = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _field(kind: str, description: str) -> dict[str, Any]:
    return {"type": kind, "description": description}


OBJECT_META: dict[str, Any] = {
    "type": "object",
    "description": "ObjectMeta is metadata that all persisted resources must have, which includes all objects "
                   "users must create.",
    "properties": {
        "name": _field("string", "Name must be unique within a namespace."),
        "generateName": _field("string", "An optional prefix the server uses to generate a unique name, when "
                                         "name is not provided."),
        "namespace": _field("string", "The namespace the object is in; empty for cluster-scoped objects."),
        "uid": _field("string", "Unique in time and space; set by the server on create."),
        "resourceVersion": _field("string", "An opaque value that changes on every write, for optimistic "
                                            "concurrency and watches."),
        "generation": {"type": "integer", "format": "int64",
                       "description": "A sequence number of the desired state (spec); set by the server."},
        "creationTimestamp": _field("string", "When the object was created (RFC 3339, UTC)."),
        "deletionTimestamp": _field("string", "When the object is to be deleted; set by the server."),
        "labels": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "Map of string keys and values that can be used to organize and select objects."},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "Unstructured key value map stored with a resource."},
        "finalizers": {"type": "array", "items": {"type": "string"},
                       "description": "Must be empty before the object is deleted from the registry."},
        "ownerReferences": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "description": "Objects this object depends on; garbage collection is not emulated."},
    },
}
ENVELOPE = {
    "apiVersion": _field("string", "APIVersion defines the versioned schema of this representation of an object."),
    "kind": _field("string", "Kind is a string value representing the REST resource this object represents."),
}


def openapi_path(res: ResKey) -> str:
    return f"apis/{res.group}/{res.version}" if res.group else f"api/{res.version}"


def schema_name(res: ResKey, kind: str) -> str:
    """The component name a real server gives a kind: `io.k8s.api.core.v1.Pod`, `dev.chaosoperator.v1alpha1.X`."""
    if not res.group:
        return f"io.k8s.api.core.{res.version}.{kind}"
    return ".".join([*reversed(res.group.split(".")), res.version, kind])


def openapi_root(entries: Entries) -> dict[str, Any]:
    """`/openapi/v3`: one document per served group/version."""
    paths = sorted({openapi_path(res) for res, _ in entries})
    return {"paths": {path: {"serverRelativeURL": f"/openapi/v3/{path}"} for path in paths}}


def kind_schema(res: ResKey, info: ResourceInfo) -> dict[str, Any]:
    schema: dict[str, Any] = copy.deepcopy(dict(info.schema)) if isinstance(info.schema, Mapping) else {}
    schema.setdefault("type", "object")
    if not schema.get("description"):
        schema["description"] = f"{info.kind} (served by the chaos sandbox's API emulator)."
    props = schema.setdefault("properties", {})
    for key, value in ENVELOPE.items():
        props.setdefault(key, copy.deepcopy(value))
    props["metadata"] = {"allOf": [{"$ref": META_REF}], "default": {},
                         "description": "Standard object's metadata."}
    schema["x-kubernetes-group-version-kind"] = [{"group": res.group, "kind": info.kind, "version": res.version}]
    return schema


def openapi_group_version(path: str, entries: Entries) -> dict[str, Any] | None:
    """The document for one group/version: a PATCH operation per kind with `fieldValidation`, and schemas."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": OBJECT_META}
    for res, info in entries:
        if openapi_path(res) != path.strip("/"):
            continue
        prefix = f"/{openapi_path(res)}" + ("/namespaces/{namespace}" if info.namespaced else "")
        gvk = {"group": res.group, "version": res.version, "kind": info.kind}
        param = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        name = schema_name(res, info.kind)
        ok = {"200": {"description": "OK", "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{name}"}}}}}
        paths[f"{prefix}/{res.plural}/{{name}}"] = {
            "get": {"x-kubernetes-group-version-kind": gvk, "responses": ok},
            "patch": {"x-kubernetes-group-version-kind": gvk, "parameters": [param], "responses": ok},
        }
        schemas[name] = kind_schema(res, info)
    if not paths:
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "emulated"}, "paths": paths,
            "components": {"schemas": schemas}}
