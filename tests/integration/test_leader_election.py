"""The Lease elector against the emulator's real coordination.k8s.io/v1 API: one leader, takeover only after the
lease ran out, and a leader that cannot renew gives up before its lease ends."""

from __future__ import annotations

import asyncio
import time

import yaml
from chaos_sandbox.emulator import EmulatorThread, kube_client_config
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.adapters.coordination import CoordinationClient
from chaos_operator.runtime.leader.elector import Elector
from chaos_operator.runtime.leader.rules import LEASE_NAME, Timing
from chaos_operator.runtime.operator import LeadershipLost
from tests.integration.conftest import CRD
from tests.support.harness import OPERATOR_TOKEN, StaticResolver
from tests.support.waits import wait_for

NS = "chaos-system"
FAST = Timing(lease_s=4.0, renew_deadline_s=2.0, retry_s=0.25)


def elector(url: str, identity: str, changes: list[tuple[str, bool, float]] | None = None) -> Elector:
    log = changes if changes is not None else []
    return Elector(CoordinationClient(kube_client_config(url)), NS, identity, FAST,
                   on_change=lambda leading: log.append((identity, leading, time.monotonic())))


async def test_one_leader_and_the_standby_takes_over_only_after_the_lease_ran_out(emulator: EmulatorThread) -> None:
    changes: list[tuple[str, bool, float]] = []
    a, b = elector(emulator.url, "a", changes), elector(emulator.url, "b", changes)
    await a.acquire()
    holding = asyncio.create_task(a.hold())
    standby = asyncio.create_task(b.acquire())
    await asyncio.sleep(FAST.lease_s * 1.5)  # a renews all along: b must still be waiting
    assert not standby.done() and a.leading and not b.leading
    lease = emulator.get("leases", NS, LEASE_NAME)
    assert lease is not None and lease["spec"]["holderIdentity"] == "a"
    holding.cancel()  # a dies: no renewal, no release
    died_renewed_at = a.renewed_at
    assert died_renewed_at is not None
    async with asyncio.timeout(FAST.lease_s * 4):
        await standby
    took_over = time.monotonic()
    # Safety, not speed: b took over no earlier than a's own count of its lease end.
    assert took_over >= died_renewed_at + FAST.lease_s
    lease = emulator.get("leases", NS, LEASE_NAME)
    assert lease is not None and lease["spec"]["holderIdentity"] == "b"
    assert lease["spec"]["leaseTransitions"] == 1
    print(f"failover after the leader's last renewal: {took_over - died_renewed_at:.2f}s (lease {FAST.lease_s}s)")
    await b.release()
    c = elector(emulator.url, "c")
    started = time.monotonic()
    async with asyncio.timeout(FAST.lease_s):  # a released lease is free at once
        await c.acquire()
    print(f"takeover after a release: {time.monotonic() - started:.2f}s")
    for e in (a, b, c):
        e.store.close()


async def test_a_leader_that_cannot_renew_stops_before_its_lease_ends() -> None:
    emu = EmulatorThread()
    emu.start()
    a = elector(emu.url, "a")
    try:
        await a.acquire()
        holding = asyncio.create_task(a.hold())
        await asyncio.sleep(FAST.retry_s * 4)
        assert not holding.done()
    finally:
        emu.stop()  # the API server is gone: renewals fail
    async with asyncio.timeout(FAST.lease_s * 2):
        await holding
    gave_up = time.monotonic()
    assert not a.leading
    assert a.renewed_at is not None and gave_up < a.expires_at
    print(f"gave up {gave_up - a.renewed_at:.2f}s after the last renewal (deadline {FAST.renew_deadline_s}s, "
          f"lease {FAST.lease_s}s)")
    a.store.close()


async def test_two_candidates_racing_for_a_new_lease_get_one_leader(emulator: EmulatorThread) -> None:
    electors = [elector(emulator.url, f"e{i}") for i in range(4)]
    tasks = [asyncio.create_task(e.acquire()) for e in electors]
    done, pending = await asyncio.wait(tasks, timeout=FAST.lease_s, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.sleep(FAST.retry_s * 4)  # the others keep trying meanwhile
    assert sum(e.leading for e in electors) == 1 and len(done) == 1
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for e in electors:
        e.store.close()


def test_an_operator_that_loses_the_api_stops_handling_before_its_lease_ends() -> None:
    emu = EmulatorThread()
    emu.start()
    emu.register_crd(yaml.safe_load(CRD.read_text()))
    op = OperatorThread(emu.url, StaticResolver({}), token=OPERATOR_TOKEN, load_runner="inprocess")
    op.config.leader_election, op.config.lease = True, FAST
    try:
        op.__enter__()  # ready: it won the Lease and kopf runs
        lease = emu.get("leases", NS, LEASE_NAME)
        assert lease is not None and lease["spec"]["holderIdentity"] == op.config.identity
        time.sleep(FAST.retry_s * 2)
    finally:
        emu.stop()  # renewals fail from here on
    api_gone = time.monotonic()
    wait_for("the operator to give up", lambda: op.error is not None, timeout=FAST.lease_s * 3)
    gave_up = time.monotonic()
    assert isinstance(op.error, LeadershipLost), op.error
    # Its last renewal was at most one retry period before the API went away; it stopped before that lease ended.
    assert gave_up < api_gone - FAST.retry_s + FAST.lease_s
    print(f"operator stopped handling {gave_up - api_gone:.2f}s after the API went away (lease {FAST.lease_s}s)")
