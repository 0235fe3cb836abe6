"""Server-side apply of associative lists over HTTP: containers merge by name and each container's fields are
owned apart (two managers, two containers; a conflict names one container's field), and a CRD's
`x-kubernetes-list-type: map` list merges by its `x-kubernetes-list-map-keys`."""

from __future__ import annotations

from typing import Any

import yaml
from chaos_sandbox.emulator import EmulatorThread

from tests.emulator.http import call

APPLY = "application/apply-patch+yaml"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments/web"


def apply(emu: EmulatorThread, path: str, body: dict[str, Any], manager: str,
          force: bool = False) -> tuple[int, dict[str, Any]]:
    query = f"?fieldManager={manager}" + ("&force=true" if force else "")
    status, answer, _ = call(emu, "PATCH", path + query, yaml.safe_dump(body).encode(), APPLY)
    return status, answer


def deployment(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": list(containers)}}}}


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(obj["spec"]["template"]["spec"]["containers"])


def owned_containers(obj: dict[str, Any], manager: str) -> set[str]:
    entry = next(e for e in obj["metadata"]["managedFields"] if e["manager"] == manager)
    return set(entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"])


def test_two_managers_own_two_containers(emulator: EmulatorThread) -> None:
    assert apply(emulator, DEPLOY, deployment({"name": "web", "image": "nginx:1"}), "helm")[0] == 201
    status, obj = apply(emulator, DEPLOY, deployment({"name": "proxy", "image": "envoy:1"}), "injector")
    assert status == 200
    assert containers(obj) == [{"name": "web", "image": "nginx:1"}, {"name": "proxy", "image": "envoy:1"}]
    assert owned_containers(obj, "helm") == {'k:{"name":"web"}'}
    assert owned_containers(obj, "injector") == {'k:{"name":"proxy"}'}
    status, obj = apply(emulator, DEPLOY, deployment({"name": "web", "image": "nginx:2", "args": ["-v"]}), "helm")
    assert status == 200  # helm changes its own container; the injector's stays
    assert containers(obj) == [{"name": "web", "image": "nginx:2", "args": ["-v"]},
                               {"name": "proxy", "image": "envoy:1"}]
    status, obj = apply(emulator, DEPLOY, deployment(), "injector")  # the injector gives its container up
    assert status == 200 and containers(obj) == [{"name": "web", "image": "nginx:2", "args": ["-v"]}]


def test_an_element_applied_with_its_key_only_goes_when_no_longer_applied(emulator: EmulatorThread) -> None:
    apply(emulator, DEPLOY, deployment({"name": "web", "image": "nginx:1"}), "helm")
    status, obj = apply(emulator, DEPLOY, deployment({"name": "web"}, {"name": "bare"}), "other")
    assert status == 200 and [c["name"] for c in containers(obj)] == ["web", "bare"]
    status, obj = apply(emulator, DEPLOY, deployment(), "other")
    assert status == 200 and containers(obj) == [{"name": "web", "image": "nginx:1"}]  # helm's stays whole


def test_a_conflict_names_one_containers_field(emulator: EmulatorThread) -> None:
    apply(emulator, DEPLOY, deployment({"name": "web", "image": "nginx:1"}, {"name": "log", "image": "fluent:1"}),
          "helm")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:hotfix"}]}}}}
    status, obj, _ = call(emulator, "PATCH", DEPLOY + "?fieldManager=kubectl-edit", patch,
                          "application/strategic-merge-patch+json")
    assert status == 200 and [c["image"] for c in containers(obj)] == ["nginx:hotfix", "fluent:1"]
    upgrade = deployment({"name": "web", "image": "nginx:2"}, {"name": "log", "image": "fluent:2"})
    status, answer = apply(emulator, DEPLOY, upgrade, "helm")
    assert status == 409
    assert answer["message"] == ('Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: '
                                 '.spec.template.spec.containers[name="web"].image')
    status, obj = apply(emulator, DEPLOY, upgrade, "helm", force=True)
    assert status == 200 and [c["image"] for c in containers(obj)] == ["nginx:2", "fluent:2"]
    assert "kubectl-edit" not in {e["manager"] for e in obj["metadata"]["managedFields"]}


WIDGETS = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "properties": {
                            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                            "metadata": {"type": "object"}, "spec": {"type": "object", "properties": {
                            "ports": {"type": "array", "x-kubernetes-list-type": "map",
                                      "x-kubernetes-list-map-keys": ["name"],
                                      "items": {"type": "object", "required": ["name"], "properties": {
                                          "name": {"type": "string"}, "port": {"type": "integer"}}}},
                            "tags": {"type": "array", "items": {"type": "string"}}}}}}}}]}}


def test_a_crd_map_list_merges_by_its_keys(validating_emulator: EmulatorThread) -> None:
    validating_emulator.register_crd(WIDGETS)
    path = "/apis/example.com/v1/namespaces/default/widgets/w"

    def widget(**spec: Any) -> dict[str, Any]:
        return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}

    assert apply(validating_emulator, path, widget(ports=[{"name": "http", "port": 80}], tags=["a"]), "one")[0] == 201
    status, obj = apply(validating_emulator, path, widget(ports=[{"name": "grpc", "port": 90}]), "two")
    assert status == 200 and obj["spec"]["ports"] == [{"name": "http", "port": 80}, {"name": "grpc", "port": 90}]
    status, answer = apply(validating_emulator, path, widget(tags=["b"]), "two")  # an atomic list: one owner
    assert status == 409 and answer["message"].endswith('conflict with "one" using example.com/v1: .spec.tags')
