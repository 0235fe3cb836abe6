"""Which lists of the built-in kinds merge element by element, and by which key: the patch strategy
and merge key a real API server reads from its Go types, for the kinds the chart and the operator use
(docs/sandbox.md, "Patching"). Strategic merge patch (strategic.py) and server-side apply (apply.py) both
walk objects with these tables.

A field is (its type, its merge key, its strategy). A list with no "merge" strategy is atomic: a patch
replaces it whole. A type not listed here has no merging lists (ConfigMap, Secret, Role, bindings, Lease).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class Field(NamedTuple):
    type: str = ""  # the type of the value (of each element for a list); "" when nothing below merges
    key: str = ""  # the merge key of a list of maps ("" for a list of scalars)
    strategy: str = ""  # "merge", "retainKeys", "merge,retainKeys" or "" (replace)


_META = Field("ObjectMeta")
_CONDITIONS = Field(key="type", strategy="merge")
_TEMPLATE = Field("PodTemplateSpec")
TYPES: Mapping[str, Mapping[str, Field]] = {
    "ObjectMeta": {"finalizers": Field(strategy="merge"), "ownerReferences": Field(key="uid", strategy="merge")},
    "PodTemplateSpec": {"metadata": _META, "spec": Field("PodSpec")},
    "PodSpec": {
        "containers": Field("Container", "name", "merge"),
        "initContainers": Field("Container", "name", "merge"),
        "ephemeralContainers": Field("Container", "name", "merge"),
        "volumes": Field(key="name", strategy="merge,retainKeys"),
        "imagePullSecrets": Field(key="name", strategy="merge"),
        "hostAliases": Field(key="ip", strategy="merge"),
        "topologySpreadConstraints": Field(key="topologyKey", strategy="merge"),
        "schedulingGates": Field(key="name", strategy="merge"),
        "resourceClaims": Field(key="name", strategy="merge,retainKeys"),
    },
    "Container": {
        "ports": Field(key="containerPort", strategy="merge"),
        "env": Field(key="name", strategy="merge"),
        "volumeMounts": Field(key="mountPath", strategy="merge"),
        "volumeDevices": Field(key="devicePath", strategy="merge"),
    },
    "PodStatus": {"conditions": _CONDITIONS, "podIPs": Field(key="ip", strategy="merge")},
    "Pod": {"metadata": _META, "spec": Field("PodSpec"), "status": Field("PodStatus")},
    "DeploymentSpec": {"template": _TEMPLATE, "strategy": Field(strategy="retainKeys")},
    "WorkloadStatus": {"conditions": _CONDITIONS},
    "Deployment": {"metadata": _META, "spec": Field("DeploymentSpec"), "status": Field("WorkloadStatus")},
    "ReplicaSetSpec": {"template": _TEMPLATE},
    "ReplicaSet": {"metadata": _META, "spec": Field("ReplicaSetSpec"), "status": Field("WorkloadStatus")},
    "JobSpec": {"template": _TEMPLATE},
    "Job": {"metadata": _META, "spec": Field("JobSpec"), "status": Field("WorkloadStatus")},
    "JobTemplateSpec": {"metadata": _META, "spec": Field("JobSpec")},
    "CronJobSpec": {"jobTemplate": Field("JobTemplateSpec")},
    "CronJob": {"metadata": _META, "spec": Field("CronJobSpec")},
    "ServiceSpec": {"ports": Field(key="port", strategy="merge")},
    "Service": {"metadata": _META, "spec": Field("ServiceSpec"), "status": Field("WorkloadStatus")},
    "ServiceAccount": {"metadata": _META, "secrets": Field(key="name", strategy="merge")},
    "Namespace": {"metadata": _META, "status": Field("WorkloadStatus")},
    "Object": {"metadata": _META},  # every other kind: only its metadata has lists that merge
}

# Server-side apply keys some lists by more than the strategic merge key (a port and its protocol); a key
# missing from an element is left out of its identity (a real server would have defaulted it first).
APPLY_KEYS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("Container", "ports"): ("containerPort", "protocol"),
    ("ServiceSpec", "ports"): ("port", "protocol"),
}


def fields_of(type_name: str) -> Mapping[str, Field]:
    return TYPES.get(type_name, {})


def field_of(type_name: str, name: str) -> Field:
    return fields_of(type_name).get(name, Field())


def root_type(kind: str) -> str:
    """The type of a whole object of this kind."""
    return kind if kind in TYPES else "Object"


def apply_keys(type_name: str, name: str) -> tuple[str, ...]:
    """The keys that identify an element of an associative list under server-side apply (() if atomic)."""
    spec = field_of(type_name, name)
    if "merge" not in spec.strategy.split(",") or not spec.key:
        return ()
    return APPLY_KEYS.get((type_name, name), (spec.key,))


def schema_keys(schema: Any) -> tuple[str, ...]:
    """The keys of an `x-kubernetes-list-type: map` list in a CRD's schema (() for any other list)."""
    if isinstance(schema, Mapping) and schema.get("x-kubernetes-list-type") == "map":
        return tuple(str(key) for key in schema.get("x-kubernetes-list-map-keys") or ())
    return ()



class Shape(NamedTuple):
    """What server-side apply knows about the value at one place: its built-in type and, for a custom
    resource, its node of the CRD's schema; `keys` when the value is an associative list."""

    type: str = ""
    schema: Mapping[str, Any] | None = None
    keys: tuple[str, ...] = ()

    def child(self, name: str) -> Shape:
        """The shape of field `name` of this map."""
        schema = None
        if self.schema is not None:
            props = self.schema.get("properties") or {}
            found = props.get(name, self.schema.get("additionalProperties"))
            schema = found if isinstance(found, Mapping) else None
        keys = schema_keys(schema) or apply_keys(self.type, name)
        return Shape(field_of(self.type, name).type, schema, keys)

    def item(self) -> Shape:
        """The shape of an element of this list."""
        items = self.schema.get("items") if self.schema is not None else None
        return Shape(self.type, items if isinstance(items, Mapping) else None)


UNKNOWN = Shape()  # nothing known: every list is atomic


def object_shape(kind: str, builtin: bool, schema: Mapping[str, Any] | None) -> Shape:
    return Shape(root_type(kind) if builtin else "Object", schema)
