"""The network and stress scenarios' shared setup: the real operator creating helper pods, the fake kubelet
(tests/integration/kubelet.py) playing the node, two target replicas, and what the tests wait for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.emulator.replicas import ReplicaKeeper
from chaos_sandbox.operator_thread import OperatorThread

from tests.integration.conftest import experiment, replicas
from tests.integration.kubelet import IMAGE, FakeKubelet
from tests.support.harness import OPERATOR_TOKEN, StaticResolver
from tests.support.waits import status_of, wait_for

NS = "shop"
OPS = "chaos-system"  # the operator's namespace: its helper pods live there


LABELS = {"app": "checkout"}


NODE = "node-7"


BANDWIDTH = {"kind": "NetworkBandwidth", "rate": "1mbit"}


@pytest.fixture
def keeper(emulator: EmulatorThread) -> Iterator[ReplicaKeeper]:
    with replicas(emulator, LABELS, 2, start_delay=0.2, node_name=NODE) as keep:
        yield keep


@pytest.fixture
def kubelet(emulator: EmulatorThread) -> Iterator[FakeKubelet]:
    with FakeKubelet(emulator) as fake:
        yield fake


def operator(emulator: EmulatorThread, resolver: StaticResolver) -> OperatorThread:
    op = OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess")
    op.config.image = IMAGE
    return op


def wait_injected(emu: EmulatorThread, name: str, count: int = 1) -> list[dict[str, Any]]:
    return list(wait_for(f"{count} injected", lambda: len(
        r := [i for i in status_of(emu, name).get("injections", []) if i["state"] == "Injected"]) >= count and r))


def events(emu: EmulatorThread, name: str) -> list[str]:
    return [e["reason"] for e in emu.list("events", NS) if e["involvedObject"]["name"] == name]


def bandwidth(name: str, chaos: str = "6s", mode: str = "all") -> dict[str, Any]:
    return experiment(name, NS, target={"selector": {"matchLabels": LABELS}, "mode": mode}, fault=dict(BANDWIDTH),
                      phases={"baseline": "2s", "chaos": chaos, "recovery": "2s"})
