"""The cap on experiments running at once, under kopf against the emulator: past it an experiment waits
Pending/Queued and runs when a slot frees, first come first served; an abort while queued touches nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.emulator.replicas import ReplicaKeeper
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.models.timestamps import parse_time
from tests.integration.conftest import experiment, replicas
from tests.support.harness import OPERATOR_TOKEN, StaticResolver
from tests.support.waits import status_of, wait_for, wait_phase

NS = "shop"
PHASES = {"baseline": "2s", "chaos": "2s", "recovery": "2s"}
ENDED = ("Completed", "Failed", "Aborted")


@pytest.fixture
def keeper(emulator: EmulatorThread) -> Iterator[ReplicaKeeper]:
    with replicas(emulator, {"app": "checkout", "track": "stable"}, 3, start_delay=0.2) as keep:
        yield keep


def capped(emulator: EmulatorThread, resolver: StaticResolver) -> OperatorThread:
    op = OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess")
    op.config.max_running = 1
    return op


def test_past_the_cap_an_experiment_waits_queued_then_runs(emulator: EmulatorThread, keeper: ReplicaKeeper,
                                                            resolver: StaticResolver) -> None:
    with capped(emulator, resolver):
        emulator.create("chaosexperiments", experiment("first", NS, phases=PHASES), NS)
        wait_for("first running", lambda: status_of(emulator, "first").get("phase") == "Baseline")
        emulator.create("chaosexperiments", experiment("second", NS, phases=PHASES), NS)
        queued = wait_for("second queued", lambda: (s := status_of(emulator, "second")).get("reason") == "Queued"
                          and s)
        first = wait_phase(emulator, "first", ENDED)
        second = wait_phase(emulator, "second", ENDED)
    assert queued["phase"] == "Pending" and "1 of at most 1 experiments running" in queued["message"], queued
    assert "injections" not in queued or queued["injections"] == []
    assert first["phase"] == second["phase"] == "Completed"
    assert parse_time(second["startedAt"]) >= parse_time(first["finishedAt"])  # never two at once
    reasons = [e["reason"] for e in emulator.list("events", NS) if e["involvedObject"]["name"] == "second"]
    assert "Queued" in reasons


def test_an_abort_while_queued_ends_it_with_nothing_touched(emulator: EmulatorThread, keeper: ReplicaKeeper,
                                                            resolver: StaticResolver) -> None:
    long = {"baseline": "2s", "chaos": "30s", "recovery": "2s"}
    with capped(emulator, resolver):
        emulator.create("chaosexperiments", experiment("holder", NS, phases=long), NS)
        wait_for("holder running", lambda: status_of(emulator, "holder").get("phase") in ("Baseline", "Chaos"))
        emulator.create("chaosexperiments", experiment("waiter", NS, phases=PHASES), NS)
        wait_for("waiter queued", lambda: status_of(emulator, "waiter").get("reason") == "Queued")
        emulator.patch("chaosexperiments", NS, "waiter", {"spec": {"abort": True}})
        waiter = wait_phase(emulator, "waiter", ENDED, timeout=15)
        emulator.patch("chaosexperiments", NS, "holder", {"spec": {"abort": True}})
        wait_phase(emulator, "holder", ENDED, timeout=30)
    assert (waiter["phase"], waiter["reason"]) == ("Aborted", "Aborted"), waiter
    assert "while queued" in waiter["message"] and not waiter.get("injections") and not waiter.get("targets")
