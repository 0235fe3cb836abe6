"""A trivial kopf operator in its own thread and loop against the emulator: proof that kopf works on it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import kopf
from chaos_sandbox.emulator import EmulatorThread

from tests.support.waits import wait_for

NS = "smoke"


def build_registry(url: str, seen: list[str]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=url)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage()
        settings.watching.server_timeout = 10

    @kopf.on.create("chaosoperator.dev", "v1alpha1", "chaosexperiments", registry=registry)
    def created(name: str, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        seen.append(f"create:{name}")
        patch.status["phase"] = "Pending"
        kopf.info(body, reason="Seen", message="the smoke handler ran")

    @kopf.on.delete("chaosoperator.dev", "v1alpha1", "chaosexperiments", registry=registry)
    def deleted(name: str, **_: Any) -> None:
        seen.append(f"delete:{name}")

    return registry


def test_kopf_operator_handles_create_and_delete(emulator: EmulatorThread) -> None:
    emulator.create("namespaces", {"metadata": {"name": NS}})  # kopf only watches namespaces that exist
    seen: list[str] = []
    registry = build_registry(emulator.url, seen)
    stop, ready = threading.Event(), threading.Event()
    operator = threading.Thread(name="kopf-smoke", target=lambda: asyncio.run(kopf.operator(
        registry=registry, standalone=True, clusterwide=False, namespaces=[NS], stop_flag=stop, ready_flag=ready)))
    operator.start()
    try:
        assert ready.wait(10)
        emulator.create("chaosexperiments", {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
                                             "metadata": {"name": "e1"}, "spec": {}}, NS)
        wait_for("status Pending", lambda: (emulator.get("chaosexperiments", NS, "e1") or {}).get("status") == {
            "phase": "Pending"}, 10)
        assert seen == ["create:e1"]
        held = emulator.get("chaosexperiments", NS, "e1")
        assert held is not None and held["metadata"]["finalizers"]  # kopf guards its delete handler

        emulator.delete("chaosexperiments", NS, "e1")
        wait_for("e1 gone", lambda: emulator.get("chaosexperiments", NS, "e1") is None, 10)
        assert seen == ["create:e1", "delete:e1"]
        wait_for("an event", lambda: bool(emulator.list("events", NS)), 10)  # kopf posts events through the core v1 API
        assert emulator.list("events", NS)[0]["involvedObject"]["name"] == "e1"
    finally:
        stop.set()
        operator.join(10)
    assert not operator.is_alive()
