"""Issue 17 item 7: a hung API route cannot starve the leader's Lease renewal.

Twelve experiments start at once while the emulator answers every PATCH of a ChaosExperiment (their status
writes) only after 30 s: each write holds a worker thread until its 20 s read timeout. The Lease renewals must
go on meanwhile, on time, so the operator keeps leading (a leader that stopped renewing would hand over to a
standby, and every run in flight would be interrupted by a hung route that has nothing to do with the Lease)."""

from __future__ import annotations

import time

import yaml
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.runtime.handlers import FINALIZER
from chaos_operator.runtime.leader.rules import LEASE_NAME, Timing
from tests.integration.conftest import CRD, SHOP, experiment, make_pod, make_service
from tests.support.harness import OPERATOR_TOKEN, StaticResolver
from tests.support.waits import wait_for

NS = "chaos-system"
FAST = Timing(lease_s=4.0, renew_deadline_s=2.0, retry_s=0.25)
EXPERIMENTS = 12  # more hung writes than the default thread pool has workers (min(32, cpus + 4))
STALL_S = 30.0
WATCH_S = 12.0  # how long the renewals are watched while the writes hang


def test_the_lease_is_renewed_on_time_while_status_writes_hang() -> None:
    emu = EmulatorThread()
    emu.start()
    try:
        emu.register_crd(yaml.safe_load(CRD.read_text()))
        make_service(emu, SHOP)
        make_pod(emu, SHOP, "checkout-0", {"app": "checkout"})
        op = OperatorThread(emu.url, StaticResolver({(SHOP, "checkout", 8080): ["http://127.0.0.1:9"]}),
                            token=OPERATOR_TOKEN, load_runner="inprocess")
        op.config.leader_election, op.config.lease = True, FAST
        with op:
            emu.emulator.stalls[("patch", "chaosexperiments")] = STALL_S
            for i in range(EXPERIMENTS):  # the finalizer is there already: kopf itself needs no PATCH
                body = experiment(f"hung-{i}", SHOP)
                body["metadata"]["finalizers"] = [FINALIZER]
                emu.create("chaosexperiments", body, SHOP)
            wait_for("every experiment's first status write to hang",
                     lambda: emu.emulator.stalled >= EXPERIMENTS, timeout=30)
            renewals: list[tuple[float, object]] = []
            start = time.monotonic()
            while time.monotonic() - start < WATCH_S and op.error is None:
                lease = emu.get("leases", NS, LEASE_NAME) or {}
                renewed = (lease.get("spec") or {}).get("renewTime")
                if not renewals or renewals[-1][1] != renewed:
                    renewals.append((time.monotonic(), renewed))
                time.sleep(0.05)
            gaps = [b[0] - a[0] for a, b in zip(renewals, renewals[1:], strict=False)]
            print(f"\n{len(renewals)} renewals seen in {WATCH_S:g}s while {EXPERIMENTS} status writes hung; "
                  f"largest gap {max(gaps, default=float('nan')):.2f}s (retry {FAST.retry_s}s, "
                  f"renew deadline {FAST.renew_deadline_s}s)")
            assert op.error is None, op.error  # it never gave up leading
            holder = (emu.get("leases", NS, LEASE_NAME) or {}).get("spec", {}).get("holderIdentity")
            assert holder == op.config.identity
            # Renewed all along (renewTime has a resolution of microseconds): far more than a lease's worth.
            assert len(renewals) >= WATCH_S / FAST.lease_s * 2, renewals
            emu.emulator.stalls.clear()
    finally:
        emu.stop()
