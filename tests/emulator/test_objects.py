"""Object semantics through real HTTP with the official client: identity, versions, status, patch, delete."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_sandbox.emulator import Emulator, EmulatorThread, ResourceType
from chaos_sandbox.emulator.store import Obj
from kubernetes import client

GROUP, VERSION, PLURAL = "chaosoperator.dev", "v1alpha1", "chaosexperiments"
NS = "ns1"


@pytest.fixture()
def api(kube_config: client.Configuration) -> Iterator[client.ApiClient]:
    with client.ApiClient(kube_config) as api_client:
        yield api_client


# The client's typed models reject nothing we send as plain dicts at runtime; typing the handles as Any keeps
# the tests about wire behaviour rather than about the generated model classes.
@pytest.fixture()
def custom(api: client.ApiClient) -> Any:
    return client.CustomObjectsApi(api)


@pytest.fixture()
def core(api: client.ApiClient) -> Any:
    return client.CoreV1Api(api)


def cex(name: str = "e1", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ChaosExperiment", "metadata": {"name": name},
            "spec": {"abort": False}, **extra}


def create(custom: Any, body: dict[str, Any]) -> Any:
    return custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, body)


def get(custom: Any, name: str = "e1") -> Any:
    return custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, name)


def patch(custom: Any, body: Any, status: bool = False, name: str = "e1") -> Any:
    call = custom.patch_namespaced_custom_object_status if status else custom.patch_namespaced_custom_object
    content_type = "application/json-patch+json" if isinstance(body, list) else "application/merge-patch+json"
    return call(GROUP, VERSION, NS, PLURAL, name, body, _content_type=content_type)


def api_error(call: Any, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(client.ApiException) as caught:
        call(*args, **kwargs)
    return caught.value.status, json.loads(caught.value.body or "{}")


def test_create_sets_identity_and_returns_201(custom: Any) -> None:
    body, code, _ = custom.create_namespaced_custom_object_with_http_info(GROUP, VERSION, NS, PLURAL, cex())
    meta = body["metadata"]
    assert code == 201
    assert uuid.UUID(meta["uid"]).version == 4
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["generation"] == 1 and meta["namespace"] == NS and meta["resourceVersion"].isdigit()
    assert get(custom) == body


def test_create_existing_is_409_already_exists(custom: Any) -> None:
    create(custom, cex())
    code, status = api_error(create, custom, cex())
    assert (code, status["kind"], status["reason"], status["code"]) == (409, "Status", "AlreadyExists", 409)


def test_missing_object_is_404_not_found(custom: Any) -> None:
    code, status = api_error(get, custom, "nope")
    assert (code, status["kind"], status["reason"]) == (404, "Status", "NotFound")
    code, status = api_error(patch, custom, {"spec": {}}, name="nope")
    assert (code, status["reason"]) == (404, "NotFound")


def test_generate_name(custom: Any) -> None:
    names = {create(custom, cex(metadata={"generateName": "run-"}))["metadata"]["name"] for _ in range(5)}
    assert len(names) == 5
    assert all(re.fullmatch(r"run-[a-z0-9]{5}", name) for name in names)


def test_namespace_in_body_must_match_url(custom: Any) -> None:
    code, status = api_error(create, custom, cex(metadata={"name": "e1", "namespace": "other"}))
    assert (code, status["reason"]) == (400, "BadRequest")


def test_resource_version_is_one_global_counter(custom: Any, core: Any) -> None:
    seen = [int(create(custom, cex(metadata={"name": "e1", "finalizers": ["x/y"]}))["metadata"]["resourceVersion"])]
    seen.append(int(core.create_namespaced_config_map(NS, {"metadata": {"name": "cm"}}).metadata.resource_version))
    seen.append(int(patch(custom, {"spec": {"abort": True}})["metadata"]["resourceVersion"]))
    seen.append(int(patch(custom, {"status": {"phase": "Chaos"}}, status=True)["metadata"]["resourceVersion"]))
    deleting = custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "e1")
    seen.append(int(deleting["metadata"]["resourceVersion"]))
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert int(listed["metadata"]["resourceVersion"]) == seen[-1]
    assert int(core.list_namespaced_config_map(NS).metadata.resource_version) == seen[-1]


@pytest.mark.parametrize(("change", "status", "bumped"), [
    ({"spec": {"abort": True}}, False, True),
    ([{"op": "add", "path": "/spec/dryRun", "value": True}], False, True),
    ({"metadata": {"labels": {"a": "b"}}}, False, False),
    ({"metadata": {"annotations": {"a": "b"}}}, False, False),
    ({"status": {"phase": "Chaos"}}, True, False),
    ({"status": {"phase": "Chaos"}}, False, False),  # ignored on the main endpoint: nothing changes
])
def test_generation_tracks_spec_only(custom: Any, change: Any, status: bool,
                                     bumped: bool) -> None:
    create(custom, cex())
    assert patch(custom, change, status=status)["metadata"]["generation"] == (2 if bumped else 1)


def test_status_subresource_isolation(custom: Any) -> None:
    create(custom, cex(status={"phase": "Forged"}))
    assert "status" not in get(custom)  # ignored on create
    after_main = patch(custom, {"spec": {"abort": True}, "status": {"phase": "Forged"}})
    assert after_main["spec"] == {"abort": True} and "status" not in after_main
    after_status = patch(custom, {"spec": {"abort": False}, "status": {"phase": "Chaos"}}, status=True)
    assert after_status["spec"] == {"abort": True} and after_status["status"] == {"phase": "Chaos"}
    body = get(custom)
    body["status"], body["spec"] = {"phase": "Replaced"}, {"abort": False}
    replaced = custom.replace_namespaced_custom_object_status(GROUP, VERSION, NS, PLURAL, "e1", body)
    assert replaced["status"] == {"phase": "Replaced"} and replaced["spec"] == {"abort": True}


def test_merge_and_json_patch(custom: Any) -> None:
    create(custom, cex(metadata={"name": "e1", "labels": {"a": "1", "b": "2"}}))
    assert patch(custom, {"metadata": {"labels": {"a": None, "c": "3"}}})["metadata"]["labels"] == {"b": "2", "c": "3"}
    ops = [{"op": "test", "path": "/spec/abort", "value": False},
           {"op": "replace", "path": "/spec/abort", "value": True},
           {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]},
           {"op": "remove", "path": "/metadata/labels/b"}]
    result = patch(custom, ops)
    assert result["spec"]["abort"] is True and result["metadata"]["finalizers"] == ["x/y"]
    assert result["metadata"]["labels"] == {"c": "3"}
    stale = [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"}, {"op": "remove", "path": "/spec"}]
    code, status = api_error(patch, custom, stale)  # kopf relies on a failed test being 422
    assert code == 422 and get(custom)["spec"] == {"abort": True}


def test_put_replaces_and_detects_conflicts(custom: Any) -> None:
    create(custom, cex())
    body = get(custom)
    body["spec"] = {"dryRun": True}
    replaced = custom.replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "e1", body)
    assert replaced["spec"] == {"dryRun": True} and replaced["metadata"]["generation"] == 2
    assert replaced["metadata"]["uid"] == body["metadata"]["uid"]
    code, status = api_error(custom.replace_namespaced_custom_object, GROUP, VERSION, NS, PLURAL, "e1", body)
    assert (code, status["reason"]) == (409, "Conflict")  # body still carries the old resourceVersion
    assert get(custom)["spec"] == {"dryRun": True}


def test_delete_preconditions(custom: Any) -> None:
    uid = create(custom, cex())["metadata"]["uid"]
    for preconditions in ({"uid": str(uuid.uuid4())}, {"resourceVersion": "999"}):
        code, status = api_error(custom.delete_namespaced_custom_object, GROUP, VERSION, NS, PLURAL, "e1",
                                 body={"preconditions": preconditions})
        assert (code, status["reason"]) == (409, "Conflict")
        assert get(custom)["metadata"]["uid"] == uid
    custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "e1", body={"preconditions": {"uid": uid}})
    assert api_error(get, custom)[0] == 404


def test_finalizers_hold_deletion_until_removed(custom: Any) -> None:
    create(custom, cex(metadata={"name": "e1", "finalizers": ["a/b", "c/d"]}))
    marked = custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "e1", grace_period_seconds=7)
    assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["deletionGracePeriodSeconds"] == 7
    assert get(custom)["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    code, _ = api_error(patch, custom, {"metadata": {"finalizers": ["a/b", "c/d", "e/f"]}})
    assert code == 422  # no new finalizers on an object being deleted
    patch(custom, {"metadata": {"finalizers": ["c/d"]}})
    assert get(custom)["metadata"]["finalizers"] == ["c/d"]
    patch(custom, [{"op": "remove", "path": "/metadata/finalizers"}])
    assert api_error(get, custom)[0] == 404


def test_pod_without_finalizers_is_removed_at_once(core: Any) -> None:
    core.create_namespaced_pod(NS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
    deleted = core.delete_namespaced_pod("p", NS, grace_period_seconds=5)
    assert deleted.metadata.deletion_grace_period_seconds == 5
    assert api_error(core.read_namespaced_pod, "p", NS)[0] == 404


class DeferringEmulator(Emulator):
    def on_delete(self, rtype: ResourceType, obj: Obj, grace: int | None) -> bool:
        return rtype.plural == "pods"


def test_on_delete_hook_can_defer_pod_removal() -> None:
    with EmulatorThread(DeferringEmulator()) as emu:
        emu.create("pods", {"metadata": {"name": "p"}, "spec": {"containers": []}}, NS)
        terminating = emu.delete("pods", NS, "p", grace=30)
        assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30
        assert emu.get("pods", NS, "p") is not None
        emu.call(emu.emulator.store.remove, emu.rtype("pods"), NS, "p")
        assert emu.get("pods", NS, "p") is None


def test_crd_created_through_the_api_is_served(api: client.ApiClient, emulator: EmulatorThread) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Cluster",
                    "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                    "versions": [{"name": "v1", "served": True, "storage": True}]}}
    extensions: Any = client.ApiextensionsV1Api(api)
    extensions.create_custom_resource_definition(crd)
    stored = emulator.get("customresourcedefinitions", None, "widgets.example.com")
    assert stored is not None
    assert {"type": "Established", "status": "True"}.items() <= stored["status"]["conditions"][1].items()
    objects: Any = client.CustomObjectsApi(api)
    created = objects.create_cluster_custom_object("example.com", "v1", "widgets", {"metadata": {"name": "w"}})
    assert created["kind"] == "Widget" and "namespace" not in created["metadata"]


def discover(emulator: EmulatorThread, path: str) -> dict[str, Any]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(emulator.url + path, timeout=5) as response:
        return dict(json.load(response))


def test_discovery_for_kopf_and_kubectl(emulator: EmulatorThread) -> None:
    core = {res["name"]: res for res in discover(emulator, "/api/v1")["resources"]}
    assert discover(emulator, "/api/v1")["groupVersion"] == "v1"
    assert core["pods"]["namespaced"] is True and core["namespaces"]["namespaced"] is False
    assert {"pods/status", "services", "endpoints", "events"} <= core.keys()
    groups = {group["name"] for group in discover(emulator, "/apis")["groups"]}
    assert {"apps", "events.k8s.io", "coordination.k8s.io", "apiextensions.k8s.io", GROUP} <= groups
    mine = {res["name"]: res for res in discover(emulator, f"/apis/{GROUP}/{VERSION}")["resources"]}
    assert mine[PLURAL]["shortNames"] == ["cex"] and mine[PLURAL]["kind"] == "ChaosExperiment"
    assert set(mine[PLURAL]["verbs"]) >= {"get", "list", "watch", "create", "patch", "update", "delete"}
    assert mine[f"{PLURAL}/status"]["verbs"] == ["get", "patch", "update"]
    apps = {res["name"] for res in discover(emulator, "/apis/apps/v1")["resources"]}
    assert {"deployments", "deployments/status", "replicasets", "replicasets/status"} <= apps


def test_register_crd_again_updates_what_is_served(emulator: EmulatorThread) -> None:
    crd = emulator.get("customresourcedefinitions", None, f"{PLURAL}.{GROUP}")
    assert crd is not None
    crd["spec"]["names"]["shortNames"] = ["cex", "chaos"]
    emulator.register_crd(crd)
    mine = {res["name"]: res for res in discover(emulator, f"/apis/{GROUP}/{VERSION}")["resources"]}
    assert mine[PLURAL]["shortNames"] == ["cex", "chaos"]
    assert emulator.rtype("chaos").plural == PLURAL


@pytest.mark.parametrize(("method", "path", "code"), [
    ("GET", "/api/v1/namespaces/ns1/widgets", 404),  # unknown resource
    ("GET", "/api/v1/namespaces/ns1/pods/p/log", 404),  # unserved subresource
    ("PATCH", "/api/v1/namespaces/ns1/configmaps/x/status", 404),  # configmaps have no status
    ("POST", "/api/v1/namespaces/ns1/pods/p", 405),
    ("GET", "/api/v1/namespaces/ns1/pods?watch=true&resourceVersion=abc", 400),
])
def test_request_errors(emulator: EmulatorThread, method: str, path: str, code: int) -> None:
    request = urllib.request.Request(emulator.url + path, method=method, data=b"{}" if method != "GET" else None,
                                     headers={"Content-Type": "application/merge-patch+json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(request, timeout=5)
    assert caught.value.code == code
    assert json.loads(caught.value.read())["kind"] == "Status"
