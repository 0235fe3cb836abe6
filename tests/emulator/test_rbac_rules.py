"""The emulator's RBAC matcher (sandbox/chaos_sandbox/emulator/rbac.py), case by case: what the RBAC authorizer
of a real API server allows and denies for the same rules and bindings."""

from __future__ import annotations

from typing import Any

import pytest
from chaos_sandbox.emulator.rbac import Identity, Policy, Request, authorize, forbidden_message, rule_allows

SA = Identity.service_account("chaos-system", "op")
ALICE = Identity("alice", ("devs", "system:authenticated"))

RULES: list[tuple[str, dict[str, Any], Request, bool]] = [
    ("verb listed", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, Request("get", "", "pods"), True),
    ("verb not listed", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
     Request("delete", "", "pods"), False),
    ("verb *", {"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}, Request("deletecollection", "", "pods"),
     True),
    ("other group", {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["pods"]}, Request("get", "", "pods"),
     False),
    ("group *", {"verbs": ["get"], "apiGroups": ["*"], "resources": ["deployments"]},
     Request("get", "apps", "deployments"), True),
    ("resource *", {"verbs": ["get"], "apiGroups": [""], "resources": ["*"]}, Request("get", "", "secrets"), True),
    ("resource * covers subresources", {"verbs": ["create"], "apiGroups": [""], "resources": ["*"]},
     Request("create", "", "pods", "exec"), True),
    ("pods does not grant pods/exec", {"verbs": ["create"], "apiGroups": [""], "resources": ["pods"]},
     Request("create", "", "pods", "exec"), False),
    ("pods/exec", {"verbs": ["create"], "apiGroups": [""], "resources": ["pods/exec"]},
     Request("create", "", "pods", "exec", "shop", "web-0"), True),
    ("pods/exec does not grant pods", {"verbs": ["create"], "apiGroups": [""], "resources": ["pods/exec"]},
     Request("create", "", "pods"), False),
    ("*/status", {"verbs": ["patch"], "apiGroups": ["chaosoperator.dev"], "resources": ["*/status"]},
     Request("patch", "chaosoperator.dev", "chaosexperiments", "status"), True),
    ("status subresource only", {"verbs": ["patch"], "apiGroups": ["chaosoperator.dev"],
                                 "resources": ["chaosexperiments/status"]},
     Request("patch", "chaosoperator.dev", "chaosexperiments"), False),
    ("resourceNames match", {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"],
                             "resourceNames": ["pause"]}, Request("get", "", "configmaps", name="pause"), True),
    ("resourceNames other name", {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"],
                                  "resourceNames": ["pause"]}, Request("get", "", "configmaps", name="x"), False),
    ("resourceNames never match a list", {"verbs": ["list"], "apiGroups": [""], "resources": ["configmaps"],
                                          "resourceNames": ["pause"]}, Request("list", "", "configmaps"), False),
    ("nonResourceURL exact", {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
     Request("get", path="/healthz"), True),
    ("nonResourceURL prefix*", {"verbs": ["get"], "nonResourceURLs": ["/apis/*"]},
     Request("get", path="/apis/apps/v1"), True),
    ("nonResourceURL other", {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, Request("get", path="/metrics"),
     False),
    ("resource rule never matches a path", {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
     Request("get", path="/metrics"), False),
    ("path rule never matches a resource", {"verbs": ["*"], "nonResourceURLs": ["*"]}, Request("get", "", "pods"),
     False),
]


@pytest.mark.parametrize(("rule", "req", "allowed"), [case[1:] for case in RULES], ids=[case[0] for case in RULES])
def test_rule(rule: dict[str, Any], req: Request, allowed: bool) -> None:
    assert rule_allows(rule, req) is allowed


def meta(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    return {"name": name, **({"namespace": namespace} if namespace else {}), **({"labels": labels} if labels else {})}


DELETE_PODS = [{"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"]}]
POLICY = Policy(
    roles=[{"metadata": meta("reader", "shop"), "rules": [{"verbs": ["get"], "apiGroups": [""],
                                                           "resources": ["services"]}]}],
    cluster_roles=[
        {"metadata": meta("pod-deleter"), "rules": DELETE_PODS},
        {"metadata": meta("aggregated"),
         "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]}},
        {"metadata": meta("piece", agg="yes"), "rules": [{"verbs": ["list"], "apiGroups": ["batch"],
                                                          "resources": ["jobs"]}]},
    ],
    role_bindings=[
        {"metadata": meta("sa-deletes-in-shop", "shop"), "roleRef": {"kind": "ClusterRole", "name": "pod-deleter"},
         "subjects": [{"kind": "ServiceAccount", "name": "op", "namespace": "chaos-system"}]},
        {"metadata": meta("devs-read", "shop"), "roleRef": {"kind": "Role", "name": "reader"},
         "subjects": [{"kind": "Group", "name": "devs"}]},
        {"metadata": meta("dangling", "lab"), "roleRef": {"kind": "Role", "name": "gone"},
         "subjects": [{"kind": "User", "name": "alice"}]},
    ],
    cluster_role_bindings=[
        {"metadata": meta("alice-agg"), "roleRef": {"kind": "ClusterRole", "name": "aggregated"},
         "subjects": [{"kind": "User", "name": "alice"}]},
    ],
)

BINDINGS: list[tuple[str, Identity, Request, bool]] = [
    ("RoleBinding to a ClusterRole, in its namespace", SA, Request("delete", "", "pods", namespace="shop"), True),
    ("RoleBinding to a ClusterRole, elsewhere", SA, Request("delete", "", "pods", namespace="other"), False),
    ("RoleBinding never grants cluster-wide", SA, Request("delete", "", "pods"), False),
    ("Group subject", ALICE, Request("get", "", "services", namespace="shop"), True),
    ("Group subject, other user", Identity("bob"), Request("get", "", "services", namespace="shop"), False),
    ("aggregated ClusterRole, everywhere", ALICE, Request("list", "batch", "jobs", namespace="any"), True),
    ("aggregated ClusterRole, not its own piece", ALICE, Request("create", "batch", "jobs", namespace="x"), False),
    ("ServiceAccount of another namespace", Identity.service_account("shop", "op"),
     Request("delete", "", "pods", namespace="shop"), False),
]


@pytest.mark.parametrize(("who", "req", "allowed"), [case[1:] for case in BINDINGS],
                         ids=[case[0] for case in BINDINGS])
def test_binding(who: Identity, req: Request, allowed: bool) -> None:
    assert authorize(who, req, POLICY)[0] is allowed


def test_a_binding_to_a_missing_role_is_the_reason() -> None:
    allowed, reason = authorize(ALICE, Request("get", "", "pods", namespace="lab"), POLICY)
    assert not allowed and reason == 'RBAC: role.rbac.authorization.k8s.io "gone" not found'


def test_messages_have_the_api_servers_form() -> None:
    assert forbidden_message(SA, Request("delete", "", "pods", namespace="shop")) == (
        'pods is forbidden: User "system:serviceaccount:chaos-system:op" cannot delete resource "pods" in API '
        'group "" in the namespace "shop"')
    assert forbidden_message(ALICE, Request("create", "", "pods", "exec", "shop", "web-0")) == (
        'pods "web-0" is forbidden: User "alice" cannot create resource "pods/exec" in API group "" in the '
        'namespace "shop"')
    assert forbidden_message(ALICE, Request("list", "apps", "deployments")) == (
        'deployments.apps is forbidden: User "alice" cannot list resource "deployments" in API group "apps" at '
        "the cluster scope")
    assert forbidden_message(ALICE, Request("get", path="/metrics")) == (
        'forbidden: User "alice" cannot get path "/metrics"')
