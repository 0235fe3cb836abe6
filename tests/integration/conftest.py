"""Fixtures for operator integration tests: emulator with our CRD, a real service, object builders."""

from __future__ import annotations

import contextlib
import copy
import pathlib
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.emulator.replicas import ReplicaKeeper

from tests.support.harness import ServiceThread, StaticResolver
from tests.support.waits import wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "chaosoperator.dev_chaosexperiments.yaml"


@pytest.fixture
def emulator(validating_emulator: EmulatorThread) -> EmulatorThread:
    """Operator tests meet an API server that validates, as a real one does."""
    return validating_emulator


@pytest.fixture
def service() -> Iterator[ServiceThread]:
    with ServiceThread() as svc:
        yield svc


SHOP = "shop"  # the namespace most scenarios run in


@pytest.fixture
def resolver(emulator: EmulatorThread, service: ServiceThread) -> StaticResolver:
    """Service shop/checkout:8080 in the emulator, answered by the real test service."""
    make_service(emulator, SHOP)
    return StaticResolver({(SHOP, "checkout", 8080): [service.url]})


@contextlib.contextmanager
def replicas(emulator: EmulatorThread, labels: Mapping[str, str], count: int, start_delay: float,
             **kwargs: Any) -> Iterator[ReplicaKeeper]:
    """A checkout workload of `count` Ready pods in shop, replaced after `start_delay` when killed."""
    keep = ReplicaKeeper(emulator.emulator, namespace=SHOP, labels=labels, replicas=count, name="checkout",
                         containers=[{"name": "app", "image": "checkout:1"}], start_delay=start_delay, **kwargs)
    emulator.run(keep.start())
    wait_for(f"{count} ready replicas", lambda: emulator.call(keep.ready_count) == count)
    try:
        yield keep
    finally:
        emulator.run(keep.stop())


def make_service(emu: EmulatorThread, ns: str, name: str = "checkout", port: int = 8080) -> None:
    emu.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
                            "spec": {"selector": {"app": name}, "ports": [{"port": port}]}}, ns)


def make_pod(emu: EmulatorThread, ns: str, name: str, labels: dict[str, str], ready: bool = True) -> str:
    pod = emu.create("pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "app:1"}]},
    }, ns)
    emu.patch("pods", ns, name, {"status": {
        "phase": "Running", "podIP": "240.0.0.9",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }}, subresource="status")
    return str(pod["metadata"]["uid"])


BASE_SPEC: dict[str, Any] = {
    "target": {"selector": {"matchLabels": {"app": "checkout"}}, "mode": "fixed", "value": 1, "seed": 7},
    "fault": {"kind": "PodKill", "gracePeriodSeconds": 0},
    "load": {"service": {"name": "checkout", "port": 8080}, "path": "/health", "rate": 100,
             "concurrency": 16, "timeout": "1s"},
    "phases": {"baseline": "2s", "chaos": "3s", "recovery": "3s"},
    "slos": {"maxErrorRate": 0.05, "maxLatencyP95": "500ms"},
}


def experiment(name: str, ns: str, **overrides: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BASE_SPEC)
    for key, value in overrides.items():
        spec[key] = value
    return {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}
