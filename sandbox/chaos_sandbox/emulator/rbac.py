"""Kubernetes RBAC, emulated: does a user, with their groups, get a request's verb from the stored Roles,
ClusterRoles, RoleBindings and ClusterRoleBindings? Pure functions over those objects (the emulator's `authz.py`
reads them from its store), following the RBAC authorizer's matching rules:

- a rule matches when its verbs (or `*`), apiGroups (or `*`), resources (`*`, `pods`, `pods/exec`, `*/status`)
  and resourceNames (none: any name; a request without a name, a list or a create, matches no named rule) all
  match; a request for a path (`/healthz`, `/apis`) matches only `nonResourceURLs` (`*` or a `prefix*`);
- a ClusterRoleBinding grants its ClusterRole's rules everywhere; a RoleBinding grants its Role's, or a
  ClusterRole's, rules in its own namespace only;
- subjects: `User` by name, `Group` by name, `ServiceAccount` as `system:serviceaccount:NS:NAME`;
- an aggregated ClusterRole (`aggregationRule.clusterRoleSelectors`, matchLabels and matchExpressions) has the
  rules of every ClusterRole its selectors pick, computed when asked rather than written by a controller.

A denial names the reason only when a binding refers to a missing role, as the API server does (`RBAC: role...
not found`). The bootstrap roles of a real cluster are not stored; `authz.py` grants their effect for discovery
and self-reviews.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

Obj = Mapping[str, Any]
SA_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class Identity:
    """Who a request is from, once authenticated."""

    user: str
    groups: tuple[str, ...] = ()

    @classmethod
    def service_account(cls, namespace: str, name: str) -> Identity:
        return cls(f"{SA_PREFIX}{namespace}:{name}",
                   ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"))


@dataclass(frozen=True)
class Request:
    """An authorizer's attributes: a resource request, or a non-resource one when `path` is set."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""  # "" for cluster-scoped objects and requests across all namespaces
    name: str = ""
    path: str = ""

    @property
    def is_resource(self) -> bool:
        return not self.path


class Policy(NamedTuple):
    """The RBAC objects to decide with."""

    roles: Sequence[Obj] = ()
    cluster_roles: Sequence[Obj] = ()
    role_bindings: Sequence[Obj] = ()
    cluster_role_bindings: Sequence[Obj] = ()


def _has(values: Iterable[str], wanted: str) -> bool:
    return any(value in ("*", wanted) for value in values)


def rule_allows(rule: Obj, req: Request) -> bool:
    """One PolicyRule against one request, as the RBAC authorizer's RuleAllows."""
    if not _has(rule.get("verbs") or (), req.verb):
        return False
    if not req.is_resource:
        return any(url == "*" or url == req.path or (url.endswith("*") and req.path.startswith(url.rstrip("*")))
                   for url in rule.get("nonResourceURLs") or ())
    if not _has(rule.get("apiGroups") or (), req.group):
        return False
    combined = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
    resources = rule.get("resources") or ()
    if not any(r in ("*", combined) or (req.subresource and r == f"*/{req.subresource}") for r in resources):
        return False
    names = rule.get("resourceNames") or ()
    return not names or req.name in names


def _subject_is(subject: Obj, who: Identity, binding_ns: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == who.user)
    if kind == "Group":
        return name in who.groups
    if kind == "ServiceAccount":
        return who.user == f"{SA_PREFIX}{subject.get('namespace') or binding_ns}:{name}"
    return False


def _selected(labels: Mapping[str, str], selector: Obj) -> bool:
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or ()
        present = key in labels
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and present and labels[key] in values) \
                or (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def cluster_role_rules(role: Obj, cluster_roles: Sequence[Obj]) -> list[Obj]:
    """A ClusterRole's rules; an aggregated one's are those of the ClusterRoles its selectors pick."""
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors")
    if not selectors:
        return list(role.get("rules") or ())
    name = role["metadata"]["name"]
    return [rule for other in cluster_roles if other["metadata"]["name"] != name
            and any(_selected(other["metadata"].get("labels") or {}, s) for s in selectors)
            for rule in other.get("rules") or ()]


def _find(objs: Sequence[Obj], name: str, namespace: str | None = None) -> Obj | None:
    return next((o for o in objs if o["metadata"]["name"] == name
                 and (namespace is None or o["metadata"].get("namespace") == namespace)), None)


def _rules_of(ref: Obj, policy: Policy, namespace: str, errors: list[str]) -> list[Obj]:
    name = str(ref.get("name", ""))
    if ref.get("kind") == "ClusterRole":
        role = _find(policy.cluster_roles, name)
        if role is None:
            errors.append(f'clusterrole.rbac.authorization.k8s.io "{name}" not found')
            return []
        return cluster_role_rules(role, policy.cluster_roles)
    role = _find(policy.roles, name, namespace)
    if role is None:
        errors.append(f'role.rbac.authorization.k8s.io "{name}" not found')
        return []
    return list(role.get("rules") or ())


def authorize(who: Identity, req: Request, policy: Policy) -> tuple[bool, str]:
    """(allowed, reason): a ClusterRoleBinding's rules apply everywhere, a RoleBinding's in its namespace."""
    errors: list[str] = []
    bindings = [(b, "") for b in policy.cluster_role_bindings]
    if req.is_resource and req.namespace:
        bindings += [(b, req.namespace) for b in policy.role_bindings
                     if b["metadata"].get("namespace") == req.namespace]
    for binding, namespace in bindings:
        if not any(_subject_is(s, who, namespace) for s in binding.get("subjects") or ()):
            continue
        if any(rule_allows(rule, req) for rule in _rules_of(binding.get("roleRef") or {}, policy, namespace, errors)):
            return True, ""
    return False, f"RBAC: {', '.join(errors)}" if errors else ""


def forbidden_message(who: Identity, req: Request, reason: str = "") -> str:
    """The message of the API server's 403 for a denied request."""
    if not req.is_resource:
        message = f'forbidden: User "{who.user}" cannot {req.verb} path "{req.path}"'
    else:
        combined = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
        qualified = f"{req.resource}.{req.group}" if req.group else req.resource
        head = f'{qualified} "{req.name}" is forbidden' if req.name else f"{qualified} is forbidden"
        where = f' in the namespace "{req.namespace}"' if req.namespace else " at the cluster scope"
        message = f'{head}: User "{who.user}" cannot {req.verb} resource "{combined}" in API group "{req.group}"{where}'
    return f"{message}: {reason}" if reason else message
