"""Pure evaluation of Kubernetes RBAC PolicyRules against recorded API calls (no API server involved).

Follows the authorizer's rules for what the chart uses: a rule allows a call when its verbs, apiGroups and
resources (``resource`` or ``resource/subresource``) all match; a ClusterRoleBinding grants a ClusterRole's
rules everywhere, a RoleBinding grants a Role's (or a ClusterRole's) rules in its own namespace only.
``resourceNames`` are refused outright: the recorded calls carry no object names, so such a rule cannot be
checked, and the chart needs none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple


class Call(NamedTuple):
    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str  # "" for cluster-scoped objects and all-namespace lists/watches


FORBIDDEN_RESOURCES = frozenset({"*", "secrets", "pods/exec", "pods/attach", "pods/portforward"})
FORBIDDEN_VERBS = frozenset({"*", "escalate", "bind", "impersonate"})
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
# load.runner=workers: the operator creates each experiment's worker token Secret and deletes it, never reads one.
SECRET_WRITES = frozenset({"create", "delete"})


@dataclass(frozen=True)
class Grant:
    """One PolicyRule as bound to a subject: everywhere (namespace None) or in one namespace."""

    source: str  # e.g. "ClusterRole/chaos-operator#0"
    namespace: str | None
    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]

    def allows(self, call: Call) -> bool:
        if self.namespace is not None and call.namespace != self.namespace:
            return False
        resource = f"{call.resource}/{call.subresource}" if call.subresource else call.resource
        return call.verb in self.verbs and call.group in self.groups and resource in self.resources

    def pairs(self) -> set[tuple[str, str, str]]:
        """Every (group, resource, verb) this grant allows: the unit a call must use."""
        return {(g, r, v) for g in self.groups for r in self.resources for v in self.verbs}


def grants_for(objects: Iterable[Mapping[str, Any]], account: str, namespace: str) -> list[Grant]:
    """The grants a ServiceAccount gets from the Roles, ClusterRoles and bindings among ``objects``."""
    objs = list(objects)
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objs
             if o.get("kind") in ("Role", "ClusterRole")}
    grants: list[Grant] = []
    for binding in objs:
        if binding.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        subjects = binding.get("subjects") or []
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == account
                   and s.get("namespace") == namespace for s in subjects):
            continue
        ref = binding["roleRef"]
        scope = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        role_ns = scope if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], role_ns, ref["name"]))
        if role is None:
            raise ValueError(f"{binding['kind']}/{binding['metadata']['name']} refers to a missing {ref}")
        for index, rule in enumerate(role.get("rules") or []):
            if rule.get("resourceNames") or rule.get("nonResourceURLs"):
                raise ValueError(f"{ref['kind']}/{ref['name']} rule {index}: resourceNames/nonResourceURLs "
                                 "cannot be checked against the recorded calls")
            grants.append(Grant(f"{ref['kind']}/{ref['name']}#{index}", scope, frozenset(rule.get("verbs") or ()),
                                frozenset(rule.get("apiGroups") or ()), frozenset(rule.get("resources") or ())))
    return grants


def forbidden(grants: Iterable[Grant]) -> list[str]:
    """What the project never grants: secrets, exec/attach, wildcards, privilege verbs, writes to nodes."""
    problems = []
    for grant in grants:
        for what in sorted(grant.resources & FORBIDDEN_RESOURCES):
            if what == "secrets" and "" in grant.groups and grant.verbs <= SECRET_WRITES:
                continue
            problems.append(f"{grant.source} grants {what}")
        for what in sorted(grant.verbs & FORBIDDEN_VERBS):
            problems.append(f"{grant.source} grants verb {what}")
        if "*" in grant.groups:
            problems.append(f"{grant.source} grants apiGroup *")
        if "" in grant.groups and "nodes" in grant.resources and grant.verbs & WRITE_VERBS:
            problems.append(f"{grant.source} grants writes to nodes")
    return problems


def denied(grants: Iterable[Grant], calls: Iterable[Call]) -> list[Call]:
    granted = list(grants)
    return sorted(call for call in calls if not any(g.allows(call) for g in granted))


def usage(grants: Iterable[Grant], calls: Iterable[Call]) -> dict[tuple[str, str, str, str], list[Call]]:
    """(source, group, resource, verb) -> the calls that this piece of a rule allows (empty: unused)."""
    table: dict[tuple[str, str, str, str], list[Call]] = {}
    recorded = sorted(set(calls))
    for grant in grants:
        for group, resource, verb in sorted(grant.pairs()):
            piece = Grant(grant.source, grant.namespace, frozenset({verb}), frozenset({group}),
                          frozenset({resource}))
            table[(grant.source, group, resource, verb)] = [c for c in recorded if piece.allows(c)]
    return table
