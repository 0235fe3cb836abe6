"""Label and field selectors: the parser and matcher alone, then through list requests over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.emulator.selectors import (
    Selector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from kubernetes import client

LABELS = {"app": "web", "tier": "front", "env": ""}


@pytest.mark.parametrize(("selector", "expected"), [
    ("", True),
    ("app=web", True),
    ("app==web", True),
    ("app=db", False),
    ("app!=db", True),
    ("app!=web", False),
    ("missing!=x", True),
    ("app in (web,db)", True),
    ("app in (db, cache)", False),
    ("missing in (x)", False),
    ("app notin (db)", True),
    ("app notin (web)", False),
    ("missing notin (x)", True),
    ("app", True),
    ("missing", False),
    ("!missing", True),
    ("!app", False),
    ("env=", True),
    ("app=web,tier=front", True),
    ("app=web,tier=back", False),
    ("app in (web,db),tier notin (back),!missing,tier", True),
    (" app = web , tier in ( front ) ", True),
    ("example.com/role!=x", True),
])
def test_label_selector_matches(selector: str, expected: bool) -> None:
    assert Selector(parse_label_selector(selector)).matches({"metadata": {"labels": LABELS}}) is expected


@pytest.mark.parametrize("selector", [
    "=web", "app in ()", "app in (web", "app notin web", "app=web)", "a b", "app==web==x", "!", "-app=x",
])
def test_bad_label_selectors_are_refused(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(selector)


POD = {"metadata": {"name": "p1", "namespace": "ns1"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(("selector", "expected"), [
    ("metadata.name=p1", True),
    ("metadata.name==p1", True),
    ("metadata.name!=p1", False),
    ("metadata.namespace=ns1", True),
    ("status.phase=Running,spec.nodeName=n1", True),
    ("status.phase!=Running", False),
    ("spec.nodeName=n2", False),
])
def test_field_selector_matches(selector: str, expected: bool) -> None:
    assert Selector(fields=parse_field_selector(selector)).matches(POD) is expected


@pytest.mark.parametrize("selector", ["metadata.name", "spec.unknown=x", "metadata.name in (a)"])
def test_bad_field_selectors_are_refused(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_field_selector(selector)


@pytest.fixture()
def pods(emulator: EmulatorThread, kube_config: client.Configuration) -> Iterator[Any]:
    pod_specs = [
        ("ns1", "web-1", {"app": "web", "tier": "front"}, "n1", "Running"),
        ("ns1", "web-2", {"app": "web", "tier": "back"}, "n2", "Pending"),
        ("ns1", "db-1", {"app": "db"}, "n1", "Running"),
        ("ns2", "web-9", {"app": "web", "tier": "front"}, "n1", "Running"),
    ]
    for namespace, name, labels, node, phase in pod_specs:
        emulator.create("pods", {"metadata": {"name": name, "labels": labels},
                                 "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}}, namespace)
        emulator.patch("pods", namespace, name, {"status": {"phase": phase}}, subresource="status")
    with client.ApiClient(kube_config) as api:
        yield client.CoreV1Api(api)


@pytest.mark.parametrize(("labels", "fields", "expected"), [
    ("app=web", "", {"web-1", "web-2"}),
    ("app==web", "", {"web-1", "web-2"}),
    ("app!=web", "", {"db-1"}),
    ("tier in (front,back)", "", {"web-1", "web-2"}),
    ("tier notin (front)", "", {"web-2", "db-1"}),
    ("tier", "", {"web-1", "web-2"}),
    ("!tier", "", {"db-1"}),
    ("app=web,tier!=back", "", {"web-1"}),
    ("app=nothing", "", set()),
    ("", "metadata.name=web-2", {"web-2"}),
    ("", "metadata.namespace=ns1,status.phase=Running", {"web-1", "db-1"}),
    ("", "spec.nodeName=n1", {"web-1", "db-1"}),
    ("", "status.phase!=Running", {"web-2"}),
    ("app=web", "spec.nodeName==n1", {"web-1"}),
])
def test_list_applies_selectors_within_the_namespace(pods: Any, labels: str, fields: str,
                                                     expected: set[str]) -> None:
    found = pods.list_namespaced_pod("ns1", label_selector=labels, field_selector=fields)
    assert {pod.metadata.name for pod in found.items} == expected


def test_list_across_namespaces(pods: Any) -> None:
    found = pods.list_pod_for_all_namespaces(label_selector="app=web,tier=front")
    assert {(pod.metadata.namespace, pod.metadata.name) for pod in found.items} == {("ns1", "web-1"), ("ns2", "web-9")}


@pytest.mark.parametrize(("labels", "fields"), [("app in (web", ""), ("", "spec.secret=x")])
def test_unparseable_selector_is_400(pods: Any, labels: str, fields: str) -> None:
    with pytest.raises(client.ApiException) as caught:
        pods.list_namespaced_pod("ns1", label_selector=labels, field_selector=fields)
    assert caught.value.status == 400
    assert json.loads(caught.value.body or "{}")["reason"] == "BadRequest"
