"""Resource types the API emulator serves: the built-in ones and those declared by CRDs."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

VERBS = frozenset({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"})
CRD_GROUP, CRD_PLURAL = "apiextensions.k8s.io", "customresourcedefinitions"


@dataclass(frozen=True)
class ResourceType:
    """What the store needs to know about a resource to serve its objects."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    has_status: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        # Objects are stored per group and plural, so every served version of a CRD sees the same objects.
        return (self.group, self.plural)


class ResKey(NamedTuple):
    """Where a resource is served: `/api/VERSION/PLURAL` (group "") or `/apis/GROUP/VERSION/PLURAL`."""

    group: str
    version: str
    plural: str


@dataclass(frozen=True)
class ResourceInfo:
    """What discovery, OpenAPI and tables say about one served resource."""

    kind: str
    singular: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()
    shortnames: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: frozenset[str] = VERBS
    columns: tuple[Mapping[str, Any], ...] = ()  # a CRD version's additionalPrinterColumns
    schema: Mapping[str, Any] | None = field(default=None, compare=False)  # its openAPIV3Schema


class ApiError(Exception):
    """An answer other than success: served as a `kind: Status` body with this HTTP code."""

    def __init__(self, status: int, reason: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        self.details = dict(details or {})

    def body(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message,
                "reason": self.reason, "details": self.details, "code": self.status}


def api_error(code: int, reason: str, message: str, **details: Any) -> ApiError:
    return ApiError(code, reason, message, details)


# (group, version, plural, kind, namespaced, subresources, shortNames, categories)
BUILTINS: tuple[tuple[str, str, str, str, bool, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    ("", "v1", "namespaces", "Namespace", False, ("status",), ("ns",), ()),
    ("", "v1", "nodes", "Node", False, ("status",), ("no",), ()),
    ("", "v1", "pods", "Pod", True, ("status",), ("po",), ("all",)),
    ("", "v1", "services", "Service", True, ("status",), ("svc",), ("all",)),
    ("", "v1", "endpoints", "Endpoints", True, (), ("ep",), ()),
    ("", "v1", "events", "Event", True, (), ("ev",), ()),
    ("", "v1", "configmaps", "ConfigMap", True, (), ("cm",), ()),
    ("", "v1", "secrets", "Secret", True, (), (), ()),  # Helm keeps its releases in Secrets
    ("events.k8s.io", "v1", "events", "Event", True, (), ("ev",), ()),
    ("apps", "v1", "deployments", "Deployment", True, ("status",), ("deploy",), ("all",)),
    ("apps", "v1", "replicasets", "ReplicaSet", True, ("status",), ("rs",), ("all",)),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, (), (), ()),
    # What the Helm chart renders besides the above; RBAC objects are enforced with Emulator(authorization="RBAC").
    ("", "v1", "serviceaccounts", "ServiceAccount", True, (), ("sa",), ()),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, (), (), ()),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, (), (), ()),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, (), (), ()),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, (), (), ()),
    ("batch", "v1", "cronjobs", "CronJob", True, ("status",), ("cj",), ("all",)),
    ("batch", "v1", "jobs", "Job", True, ("status",), (), ("all",)),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, (), ("netpol",), ()),  # not enforced
    # Access reviews are answered by authz.py (create only); admission policies are evaluated by vap.py.
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, (), (), ()),
    ("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False, (), (), ()),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", False,
     ("status",), (), ()),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding",
     False, (), (), ()),
    (CRD_GROUP, "v1", CRD_PLURAL, "CustomResourceDefinition", False, ("status",), ("crd", "crds"), ()),
)

# Status a real API server fills in on create (the pod strategy sets phase Pending, namespaces are Active).
INITIAL_STATUS: Mapping[tuple[str, str], Mapping[str, Any]] = {
    ("", "pods"): {"phase": "Pending"},
    ("", "namespaces"): {"phase": "Active"},
}


BUILTIN_KEYS = frozenset((group, plural) for group, _, plural, *_ in BUILTINS)


def is_builtin(rt: ResourceType) -> bool:
    """A kind the server knows (strategic merge patch works), not one a CRD declared."""
    return rt.key in BUILTIN_KEYS


def builtin_resources() -> Iterator[tuple[ResKey, ResourceInfo]]:
    for group, version, plural, kind, namespaced, subresources, shortnames, categories in BUILTINS:
        info = ResourceInfo(kind=kind, singular=kind.lower(), namespaced=namespaced, shortnames=shortnames,
                            categories=categories, subresources=frozenset(subresources))
        yield ResKey(group, version, plural), info


def crd_resources(crd: Mapping[str, Any]) -> list[tuple[ResKey, ResourceInfo]]:
    """Discovery entries for every served version of an `apiextensions.k8s.io/v1` CRD."""
    try:
        spec = crd["spec"]
        names = spec["names"]
        group, plural, kind = spec["group"], names["plural"], names["kind"]
        versions = spec["versions"]
    except (KeyError, TypeError) as exc:
        raise api_error(422, "Invalid", f"CustomResourceDefinition is missing {exc}") from exc
    name = crd.get("metadata", {}).get("name")
    if name != f"{plural}.{group}":
        raise api_error(422, "Invalid", f"metadata.name must be spec.names.plural+'.'+spec.group, not {name!r}")
    result = []
    for version in versions:
        if not version.get("served", True):
            continue
        subresources = set(version.get("subresources") or {}) & {"status", "scale"}
        info = ResourceInfo(kind=kind, singular=names.get("singular") or kind.lower(),
                            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                            shortnames=tuple(names.get("shortNames") or ()),
                            categories=tuple(names.get("categories") or ()), subresources=frozenset(subresources),
                            columns=tuple(version.get("additionalPrinterColumns") or ()),
                            schema=(version.get("schema") or {}).get("openAPIV3Schema"))
        result.append((ResKey(group, version["name"], plural), info))
    return result


def crd_status(crd: Mapping[str, Any]) -> dict[str, Any]:
    """The status a real server reports once a CRD is served, so `kubectl wait --for=condition=Established` works."""
    names = crd["spec"]["names"]
    reasons = (("NamesAccepted", "NoConflicts", "no conflicts found"),
               ("Established", "InitialNamesAccepted", "the initial names have been accepted"))
    conditions = [{"type": kind, "status": "True", "reason": reason, "message": message}
                  for kind, reason, message in reasons]
    return {"acceptedNames": dict(names), "conditions": conditions,
            "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")]}


def secret_data(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret as a server stores it: `stringData` written into `data` (base64), `type` Opaque by default."""
    string_data = obj.get("stringData")
    if string_data is None and obj.get("type"):
        return obj
    result = {key: value for key, value in obj.items() if key != "stringData"}
    if isinstance(string_data, dict):
        encoded = {key: base64.b64encode(str(value).encode()).decode() for key, value in string_data.items()}
        result["data"] = {**(obj.get("data") or {}), **encoded}
    result.setdefault("type", "Opaque")
    return result
