"""Watch semantics through the official client: resourceVersion, timeoutSeconds, selectors, cleanup."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_sandbox.emulator import Emulator, EmulatorThread, kube_client_config
from kubernetes import client, watch

from tests.support.waits import wait_for

Watch: Any = watch.Watch  # kubernetes.watch is untyped
GROUP, VERSION, PLURAL, NS = "chaosoperator.dev", "v1alpha1", "chaosexperiments", "ns1"


@pytest.fixture()
def custom(kube_config: client.Configuration) -> Iterator[Any]:
    with client.ApiClient(kube_config) as api:
        yield client.CustomObjectsApi(api)


def cex(name: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ChaosExperiment", "metadata": {"name": name}, "spec": {}}


def events(custom: Any, seconds: int = 1, **params: Any) -> list[tuple[str, str, str]]:
    """(type, name, resourceVersion) of every event until the server ends the stream."""
    stream = Watch().stream(custom.list_namespaced_custom_object, GROUP, VERSION, NS, PLURAL,
                                  timeout_seconds=seconds, _request_timeout=seconds + 5, **params)
    return [(e["type"], e["object"]["metadata"].get("name", ""), e["object"]["metadata"]["resourceVersion"])
            for e in stream]


def test_watch_from_resource_version_streams_only_later_events(custom: Any) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, cex("e1"))
    custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, cex("e2"))
    since = custom.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)["metadata"]["resourceVersion"]
    modified = custom.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "e1", {"spec": {"abort": True}})
    added = custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, cex("e3"))
    deleted = custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "e2")
    assert events(custom, resource_version=since) == [
        ("MODIFIED", "e1", modified["metadata"]["resourceVersion"]),
        ("ADDED", "e3", added["metadata"]["resourceVersion"]),
        ("DELETED", "e2", deleted["metadata"]["resourceVersion"]),
    ]


def test_watch_without_resource_version_replays_current_objects(custom: Any) -> None:
    for name in ("e1", "e2"):
        custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, cex(name))
    custom.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "e1")
    assert [(kind, name) for kind, name, _ in events(custom)] == [("ADDED", "e2")]


def test_send_initial_events_ends_with_a_bookmark(emulator: EmulatorThread) -> None:
    emulator.create("configmaps", {"metadata": {"name": "cm"}}, NS)
    query = "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{emulator.url}/api/v1/namespaces/{NS}/configmaps?{query}", timeout=5) as response:
        lines = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    assert [line["type"] for line in lines] == ["ADDED", "BOOKMARK"]
    assert lines[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_watch_sees_live_events(custom: Any) -> None:
    since = custom.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)["metadata"]["resourceVersion"]
    timer = threading.Timer(0.3, custom.create_namespaced_custom_object, (GROUP, VERSION, NS, PLURAL, cex("late")))
    timer.start()
    try:
        assert [(kind, name) for kind, name, _ in events(custom, 2, resource_version=since)] == [("ADDED", "late")]
    finally:
        timer.join()


def test_timeout_seconds_ends_the_stream(custom: Any) -> None:
    started = time.monotonic()
    assert events(custom, seconds=1) == []
    assert 0.9 <= time.monotonic() - started < 3.0


def test_watch_applies_selectors_to_events(emulator: EmulatorThread, kube_config: client.Configuration) -> None:
    with client.ApiClient(kube_config) as api:
        core: Any = client.CoreV1Api(api)
        since = core.list_namespaced_pod(NS).metadata.resource_version
        pod = {"metadata": {"name": "p", "labels": {"app": "web"}}, "spec": {"containers": []}}
        core.create_namespaced_pod(NS, pod)
        core.create_namespaced_pod("elsewhere", pod)
        core.create_namespaced_pod(NS, {"metadata": {"name": "other", "labels": {"app": "db"}},
                                       "spec": {"containers": []}})
        for app in ("db", "web"):
            core.patch_namespaced_pod("p", NS, {"metadata": {"labels": {"app": app}}})
        stream = Watch().stream(core.list_namespaced_pod, NS, label_selector="app=web", resource_version=since,
                                      timeout_seconds=1, _request_timeout=6)
        seen = [(event["type"], event["object"].metadata.name, event["object"].metadata.labels["app"])
                for event in stream]
    # leaving the selector is a DELETED for this watcher, coming back is an ADDED
    assert seen == [("ADDED", "p", "web"), ("DELETED", "p", "db"), ("ADDED", "p", "web")]


def test_too_old_resource_version_is_410_in_stream() -> None:
    with EmulatorThread(Emulator(history=2)) as emu, client.ApiClient(kube_client_config(emu.url)) as api:
        for index in range(4):
            emu.create("configmaps", {"metadata": {"name": f"cm{index}"}}, NS)
        configmaps: Any = client.CoreV1Api(api)
        response = configmaps.list_namespaced_config_map(
            NS, watch=True, resource_version="1", timeout_seconds=1, _preload_content=False, _request_timeout=5)
        body = response.read().decode()
    assert response.status == 200 and '"type": "ERROR"' in body and '"code": 410' in body


def test_watchers_do_not_leak(emulator: EmulatorThread, custom: Any) -> None:
    events(custom, seconds=1)
    response = custom.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, watch=True, _preload_content=False,
                                                    _request_timeout=5)
    wait_for("one watcher", lambda: len(emulator.emulator.store.watchers) == 1, 5)
    response.close()  # the client goes away mid-stream
    wait_for("no watcher", lambda: not emulator.emulator.store.watchers, 5)


def test_stop_ends_open_watches_and_leaves_no_thread() -> None:
    emu = EmulatorThread()
    emu.start()
    with client.ApiClient(kube_client_config(emu.url)) as api:
        core: Any = client.CoreV1Api(api)
        response = core.list_namespaced_pod(NS, watch=True, _preload_content=False, _request_timeout=10)
        started = time.monotonic()
        emu.stop()
        assert response.read() == b""
    assert time.monotonic() - started < 3.0
    assert not [thread for thread in threading.enumerate() if thread.name == "kube-emulator"]
