"""RBAC proven from the operator's own calls: every API call the operator made in the integration scenarios is
allowed by the rules the chart renders (cluster-wide and namespaced), no piece of a rule goes unused without a
written reason, and nothing the project never grants is granted.

The calls come from two places. `data/operator_calls.json` was recorded from the emulator while integration
scenarios ran (tests/packaging/record_calls.py says how; "namespaced" ran them with the operator watching `shop`
only). And when the emulator of this checkout records calls itself (`chaos_sandbox.emulator.ALL_CALLS`),
every call this test session's emulators served to the operator's identity (bearer token OPERATOR_TOKEN) is
checked too: run after the integration tests, that covers whatever they exercised.
"""

from __future__ import annotations

import importlib
import json
import pathlib
from typing import Any

import pytest

from tests.support.chart import NAMESPACE, RELEASE, container_args, render, schedule_values
from tests.support.harness import OPERATOR_TOKEN  # the operator's identity in the integration tests
from tests.support.rbac import Call, Grant, denied, forbidden, grants_for, usage

RECORDED = pathlib.Path(__file__).parent / "data" / "operator_calls.json"
WATCHED = "shop"  # the namespace the namespaced recording watched

# Rules no recorded call uses yet, and why they are there: (group, resource, verb) -> reason.
REASONS: dict[tuple[str, str, str], str] = {
    **{("coordination.k8s.io", "leases", verb): "leader election (Lease chaos-operator-leader in the operator's "
       "namespace, implemented on the ops branch): get it, create it once, update it to renew"
       for verb in ("get", "create", "update")},
    # The recorded scenarios run the in-process load (the emulator runs no pods); the load workers' calls are
    # made in tests/e2e/test_load_workers.py against the sandbox.
    **{(group, resource, verb): "load workers (load.runner: workers, the default; adapters/workers.py): each "
       "experiment's Job, config ConfigMap, token Secret and NetworkPolicy, created in prepare and deleted when it "
       "ends" for group, resource in (("batch", "jobs"), ("", "configmaps"), ("", "secrets"),
                                       ("networking.k8s.io", "networkpolicies"))
       for verb in ("create", "delete")},
}


def recorded_calls(mode: str) -> set[Call]:
    data: dict[str, list[list[str]]] = json.loads(RECORDED.read_text())
    return {Call(*row) for row in data[mode]}


def live_calls() -> set[Call]:
    """The operator's calls this process's emulators served, where the emulator records them."""
    try:
        emulator: Any = importlib.import_module("chaos_sandbox.emulator")
    except ImportError:
        return set()
    calls: set[Any] = getattr(emulator, "ALL_CALLS", set())
    return {Call(c.verb, c.group, c.resource, c.subresource, c.namespace) for c in calls
            if getattr(c, "user", "") == OPERATOR_TOKEN}


def operator_grants(values: dict[str, Any]) -> list[Grant]:
    return grants_for(render(values), RELEASE, NAMESPACE)


# Chart values per recorded mode. The integration tests run the operator cluster-wide, so the live calls
# count for that mode only.
MODES: dict[str, dict[str, Any]] = {"cluster": {}, "namespaced": {"watchNamespaces": [WATCHED]}}


def calls_for(mode: str) -> set[Call]:
    return recorded_calls(mode) | (live_calls() if mode == "cluster" else set())


@pytest.mark.parametrize("mode", MODES)
def test_every_recorded_call_is_allowed(mode: str) -> None:
    calls = calls_for(mode)
    assert len(calls) >= 10  # the recording is there and covers a real run
    assert denied(operator_grants(MODES[mode]), calls) == []


def test_the_namespaced_mode_really_is_narrower() -> None:
    """The same calls in a namespace that is not watched, or across all namespaces, are refused."""
    grants = operator_grants({"watchNamespaces": [WATCHED]})
    outside = [Call("delete", "", "pods", "", "payments"), Call("list", "", "pods", "", ""),
               Call("watch", "chaosoperator.dev", "chaosexperiments", "", ""),
               Call("create", "", "pods", "", "kube-system")]
    assert denied(grants, outside) == sorted(outside)


VALUE_SETS = [{}, {"watchNamespaces": ["shop", "payments"]}, {"requireNamespaceOptIn": True},
              {"faults": {"podKill": {"enabled": False}}}, {"leaderElection": {"enabled": False}}, schedule_values()]
VALUE_IDS = ["cluster", "namespaced", "opt-in", "no-pod-kill", "no-leader-election", "schedules"]


@pytest.mark.parametrize("values", VALUE_SETS, ids=VALUE_IDS)
def test_no_rule_grants_pods_create_outside_the_operators_namespace(values: dict[str, Any]) -> None:
    """Privileged helper pods can only ever be made in the operator's namespace (labelled privileged there)."""
    objects = render(values)
    accounts = [(o["metadata"]["name"], o["metadata"]["namespace"]) for o in objects if o["kind"] == "ServiceAccount"]
    for name, namespace in accounts:
        grants = grants_for(objects, name, namespace)
        for grant in grants:
            where = grant.namespace
            pods_create = grant.allows(Call("create", "", "pods", "", where or "anywhere"))
            assert not (pods_create and where != NAMESPACE), f"{name}: {grant.source} grants pods create in {where}"
    operator = operator_grants(values)
    assert denied(operator, [Call("create", "", "pods", "", NAMESPACE)]) == []  # the helpers' home
    outside = [Call("create", "", "pods", "", ns) for ns in ("shop", "payments", "kube-system", "")]
    assert denied(operator, outside) == sorted(outside)


@pytest.mark.parametrize("enabled", [True, False])
def test_pods_delete_in_tenant_namespaces_only_while_pod_kill_is_enabled(enabled: bool) -> None:
    for watch in ([], [WATCHED]):
        grants = operator_grants({"watchNamespaces": watch, "faults": {"podKill": {"enabled": enabled}}})
        kill = Call("delete", "", "pods", "", WATCHED)
        assert (denied(grants, [kill]) == []) is enabled
        reads = [Call(verb, "", "pods", "", WATCHED) for verb in ("get", "list")]
        assert denied(grants, reads + [Call("delete", "", "pods", "", NAMESPACE)]) == []  # helpers: always
    args = container_args(render({"faults": {"podKill": {"enabled": enabled}}}))
    assert ("--disable-fault=PodKill" in args) is not enabled


def test_without_pod_kill_only_its_own_calls_are_refused() -> None:
    """Every recorded call but PodKill's deletes in a tenant namespace stays granted."""
    grants = operator_grants({"faults": {"podKill": {"enabled": False}}})
    refused = denied(grants, calls_for("cluster"))
    assert refused and all((c.verb, c.resource) == ("delete", "pods") and c.namespace != NAMESPACE for c in refused)


@pytest.mark.parametrize("mode", MODES)
def test_no_rule_goes_unused_without_a_reason(mode: str) -> None:
    table = usage(operator_grants(MODES[mode]), calls_for(mode))
    unused = {(group, resource, verb) for (_, group, resource, verb), users in table.items() if not users}
    assert unused - set(REASONS) == set()
    # A reason outlives no rule: each names a piece the chart still grants.
    assert set(REASONS) <= {(group, resource, verb) for (_, group, resource, verb) in table}


@pytest.mark.parametrize("values", VALUE_SETS, ids=VALUE_IDS)
def test_never_granted(values: dict[str, Any]) -> None:
    objects = render(values)
    accounts = [(o["metadata"]["name"], o["metadata"]["namespace"]) for o in objects if o["kind"] == "ServiceAccount"]
    for name, namespace in accounts:
        grants = grants_for(objects, name, namespace)
        assert grants, name
        assert forbidden(grants) == [], name


def test_schedule_jobs_may_only_manage_experiments_in_their_namespace() -> None:
    objects = render(schedule_values())
    grants = grants_for(objects, "chaos-operator-weekly-checkout-kill", NAMESPACE)
    assert [(g.namespace, sorted(g.groups), sorted(g.resources), sorted(g.verbs)) for g in grants] == [
        ("shop", ["chaosoperator.dev"], ["chaosexperiments"], ["create", "delete", "get", "list", "watch"])]
    assert denied(grants, [Call("create", "chaosoperator.dev", "chaosexperiments", "", "payments"),
                           Call("patch", "chaosoperator.dev", "chaosexperiments", "status", "shop"),
                           Call("list", "", "pods", "", "shop")]) != []


def test_the_evaluator_refuses_what_it_should() -> None:
    """The pure evaluator itself: resource/subresource, group, namespace scope and the forbidden list."""
    role = {"kind": "Role", "metadata": {"name": "r", "namespace": "a"},
            "rules": [{"apiGroups": [""], "resources": ["pods", "pods/status"], "verbs": ["get"]}]}
    binding = {"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "a"},
               "roleRef": {"kind": "Role", "name": "r"},
               "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "x"}]}
    grants = grants_for([role, binding], "sa", "x")
    assert denied(grants, [Call("get", "", "pods", "", "a"), Call("get", "", "pods", "status", "a")]) == []
    refused = [Call("get", "", "pods", "log", "a"), Call("get", "", "pods", "", "b"),
               Call("get", "apps", "pods", "", "a"), Call("list", "", "pods", "", "a")]
    assert denied(grants, refused) == sorted(refused)
    assert grants_for([role, binding], "sa", "other") == []
    bad = {"kind": "ClusterRole", "metadata": {"name": "c"}, "rules": [
        {"apiGroups": [""], "resources": ["secrets", "nodes"], "verbs": ["get", "patch"]},
        {"apiGroups": ["*"], "resources": ["pods/exec"], "verbs": ["create", "impersonate"]}]}
    cluster_binding = {"kind": "ClusterRoleBinding", "metadata": {"name": "cb"},
                       "roleRef": {"kind": "ClusterRole", "name": "c"},
                       "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "x"}]}
    problems = forbidden(grants_for([bad, cluster_binding], "sa", "x"))
    assert problems == ["ClusterRole/c#0 grants secrets", "ClusterRole/c#0 grants writes to nodes",
                        "ClusterRole/c#1 grants pods/exec", "ClusterRole/c#1 grants verb impersonate",
                        "ClusterRole/c#1 grants apiGroup *"]
