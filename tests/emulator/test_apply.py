"""Server-side apply over HTTP: create or update by field manager, managedFields, conflicts, force."""

from __future__ import annotations

from typing import Any

import yaml
from chaos_sandbox.emulator import EmulatorThread

from tests.emulator.http import call

APPLY = "application/apply-patch+yaml"
CM = "/api/v1/namespaces/default/configmaps/settings"


def apply(emu: EmulatorThread, body: dict[str, Any], manager: str, *, force: bool = False,
          path: str = CM) -> tuple[int, dict[str, Any]]:
    query = f"?fieldManager={manager}&fieldValidation=Strict" + ("&force=true" if force else "")
    status, answer, _ = call(emu, "PATCH", path + query, yaml.safe_dump(body).encode(), APPLY)
    return status, answer


def config(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "labels": {"app": "x"}},
            "data": data}


def owners(obj: dict[str, Any]) -> dict[str, set[str]]:
    """manager/operation -> the data keys it owns."""
    return {f'{e["manager"]}/{e["operation"]}': set(e["fieldsV1"].get("f:data", {}))
            for e in obj["metadata"]["managedFields"]}


def test_apply_creates_then_updates_and_records_its_fields(emulator: EmulatorThread) -> None:
    status, created = apply(emulator, config(a="1", b="2"), "helm")
    assert status == 201
    assert created["data"] == {"a": "1", "b": "2"} and created["metadata"]["uid"]
    assert owners(created) == {"helm/Apply": {"f:a", "f:b"}}
    entry = created["metadata"]["managedFields"][0]
    assert entry["fieldsV1"]["f:metadata"] == {"f:labels": {"f:app": {}}} and entry["apiVersion"] == "v1"
    # A field the manager no longer applies is removed; the unchanged rest keeps its resourceVersion.
    status, updated = apply(emulator, config(a="1"), "helm")
    assert status == 200 and updated["data"] == {"a": "1"}
    assert owners(updated) == {"helm/Apply": {"f:a"}}
    status, again = apply(emulator, config(a="1"), "helm")
    assert again["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]


def test_another_manager_conflicts_unless_forced(emulator: EmulatorThread) -> None:
    apply(emulator, config(a="1", b="2"), "helm")
    status, refused = apply(emulator, config(a="changed"), "kubectl")
    assert status == 409 and refused["reason"] == "Conflict"
    assert refused["message"] == 'Apply failed with 1 conflict: conflict with "helm" using v1: .data.a'
    assert refused["details"]["causes"] == [
        {"type": "FieldManagerConflict", "message": 'conflict with "helm" using v1', "field": ".data.a"}]
    # The same value is owned together; a new field is simply taken.
    status, shared = apply(emulator, config(a="1", c="3"), "kubectl")
    assert status == 200 and owners(shared) == {"helm/Apply": {"f:a", "f:b"}, "kubectl/Apply": {"f:a", "f:c"}}
    status, forced = apply(emulator, config(a="forced", c="3"), "kubectl", force=True)
    assert status == 200 and forced["data"] == {"a": "forced", "b": "2", "c": "3"}
    assert owners(forced) == {"helm/Apply": {"f:b"}, "kubectl/Apply": {"f:a", "f:c"}}
    # helm stops applying b: gone; kubectl's a stays although helm never applied it again.
    status, after = apply(emulator, config(), "helm")
    assert after["data"] == {"a": "forced", "c": "3"}


def test_an_update_takes_the_fields_it_changes(emulator: EmulatorThread) -> None:
    apply(emulator, config(a="1", b="2"), "helm")
    status, patched, _ = call(emulator, "PATCH", CM + "?fieldManager=kubectl-edit", {"data": {"a": "edited"}},
                              "application/merge-patch+json")
    assert status == 200 and owners(patched) == {"helm/Apply": {"f:b"}, "kubectl-edit/Update": {"f:a"}}
    status, refused = apply(emulator, config(a="1", b="2"), "helm")
    assert status == 409 and '"kubectl-edit"' in refused["message"] and ".data.a" in refused["message"]
    status, taken = apply(emulator, config(a="1", b="2"), "helm", force=True)
    assert status == 200 and owners(taken) == {"helm/Apply": {"f:a", "f:b"}}


def test_a_plain_create_records_its_manager(emulator: EmulatorThread) -> None:
    status, created, _ = call(emulator, "POST", "/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create",
                              config(a="1"))
    assert status == 201 and owners(created) == {"kubectl-create/Update": {"f:a"}}


def test_status_is_not_applied_through_the_main_resource(emulator: EmulatorThread) -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"replicas": 2}, "status": {"replicas": 5}}
    status, created = apply(emulator, deploy, "helm", path="/apis/apps/v1/namespaces/default/deployments/web")
    assert status == 201 and "status" not in created and created["spec"] == {"replicas": 2}


def test_malformed_apply_requests_are_refused(emulator: EmulatorThread) -> None:
    status, answer, _ = call(emulator, "PATCH", CM, yaml.safe_dump(config(a="1")).encode(), APPLY)
    assert status == 400 and "fieldManager" in answer["message"]
    status, answer = apply(emulator, {**config(), "kind": "Secret"}, "helm")
    assert status == 400
    status, answer = apply(emulator, config(), "helm", path="/api/v1/namespaces/default/configmaps/other")
    assert status == 400 and "name" in answer["message"]


def test_apply_validates_custom_objects_strictly(validating_emulator: EmulatorThread) -> None:
    path = "/apis/chaosoperator.dev/v1alpha1/namespaces/default/chaosexperiments/x"
    body = {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment", "metadata": {"name": "x"},
            "spec": {"bogus": 1}}
    status, answer = apply(validating_emulator, body, "helm", path=path)
    assert status == 400 and 'unknown field "spec.bogus"' in answer["message"]
