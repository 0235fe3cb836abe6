"""Issue 15 item 6: the operator against an API server that misbehaves on demand (emulator/misbehave.py).

429 with Retry-After, 500 and 503 on the status writes, and every watch dropped mid-run: the run still ends
with its verdict, the Retry-After is honoured, and an abort sent while the watches keep dropping is seen."""

from __future__ import annotations

import time
from typing import Any

from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.emulator.misbehave import Failure
from chaos_sandbox.operator_thread import OperatorThread

from tests.integration.conftest import SHOP, experiment, replicas
from tests.support.harness import OPERATOR_TOKEN, StaticResolver
from tests.support.waits import status_of, wait_for, wait_phase

LABELS = {"app": "checkout", "track": "stable"}
STATUS = ("patch", "chaosexperiments/status")  # the operator's own writes, not kopf's
DONE = ("Completed", "Failed", "Aborted")


def test_transient_refusals_of_status_writes_are_retried_and_the_run_ends_with_its_verdict(
        emulator: EmulatorThread, resolver: StaticResolver) -> None:
    misbehave = emulator.emulator.misbehave
    misbehave.queue(STATUS, Failure(429, retry_after=1), Failure(500), Failure(503))
    with replicas(emulator, LABELS, 3, start_delay=0.5), OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN,
                                                                        load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("bumpy", SHOP), SHOP)
        status = wait_phase(emulator, "bumpy", DONE, timeout=60)
    assert [code for _, _, code, _ in misbehave.served] == [429, 500, 503]
    assert (status["phase"], status["verdict"]) == ("Completed", "Passed"), (status["reason"], status["message"])


def test_a_429_is_retried_no_sooner_than_it_asks(emulator: EmulatorThread, resolver: StaticResolver) -> None:
    landed: list[float] = []

    def listen(event: Any) -> None:
        if event.key == ("chaosoperator.dev", "chaosexperiments") and (event.obj.get("status") or {}).get("phase"):
            landed.append(time.monotonic())

    emulator.call(emulator.emulator.store.listeners.append, listen)
    misbehave = emulator.emulator.misbehave
    misbehave.queue(STATUS, Failure(429, retry_after=2))
    with replicas(emulator, LABELS, 3, start_delay=0.5), OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN,
                                                                        load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("slowed", SHOP), SHOP)
        status = wait_phase(emulator, "slowed", DONE, timeout=60)
    ((_, route, code, refused_at),) = misbehave.served
    assert (route, code, status["phase"]) == ("chaosexperiments/status", 429, "Completed")
    print(f"\nfirst status write landed {landed[0] - refused_at:.2f}s after the 429 (Retry-After: 2)")
    assert landed[0] - refused_at >= 2.0


def test_an_abort_is_seen_while_every_watch_keeps_dropping(emulator: EmulatorThread,
                                                           resolver: StaticResolver) -> None:
    with replicas(emulator, LABELS, 3, start_delay=0.5), OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN,
                                                                        load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("dropped", SHOP, phases={
            "baseline": "2s", "chaos": "60s", "recovery": "2s"}), SHOP)
        wait_for("chaos", lambda: status_of(emulator, "dropped").get("phase") == "Chaos", timeout=30)
        for _ in range(5):  # each drop makes kopf watch again from the last resourceVersion it saw
            emulator.call(emulator.emulator.store.close_watchers)
            time.sleep(0.2)
        emulator.patch("chaosexperiments", SHOP, "dropped", {"spec": {"abort": True}})
        emulator.call(emulator.emulator.store.close_watchers)
        status = wait_phase(emulator, "dropped", DONE, timeout=30)
    assert (status["phase"], status["reason"]) == ("Aborted", "Aborted"), status["message"]
