"""Two real operator processes with leader election against the emulator: exactly one acts, and when the leader
is SIGKILLed mid-chaos the standby takes over and finishes every experiment with nothing left behind."""

from __future__ import annotations

import contextlib
import pathlib
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from chaos_sandbox.emulator import EmulatorThread

from chaos_operator.runtime.leader.rules import LEASE_NAME
from tests.integration.conftest import experiment, make_pod, make_service
from tests.integration.kubelet import FakeKubelet
from tests.support.harness import ServiceThread
from tests.support.waits import status_of, wait_for, wait_phase

NS = "shop"
OPS = "chaos-system"
TERMINAL = ("Completed", "Failed", "Aborted")
LEASE = (3.0, 2.0, 0.25)  # lease, renew deadline, retry period (seconds)


@contextlib.contextmanager
def operators(emulator: EmulatorThread, service: ServiceThread, tmp: pathlib.Path) -> Iterator[dict[str, Any]]:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name in ("op-a", "op-b"):
        with (tmp / f"{name}.log").open("wb") as log:  # the child keeps its own copy of the descriptor
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "tests.support.operator_process", "--server", emulator.url, "--identity",
                 name, "--load-runner", "inprocess",
                 "--service", f"{NS}/checkout/8080={service.url}", "--lease", *map(str, LEASE)],
                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for("a leader", lambda: holder(emulator), timeout=30)
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def holder(emulator: EmulatorThread) -> str | None:
    lease = emulator.get("leases", OPS, LEASE_NAME)
    found = (lease or {}).get("spec", {}).get("holderIdentity")
    return str(found) if found else None


def count_pod_deletions(emulator: EmulatorThread) -> Counter[str]:
    """Every pod the API server really deletes from now on, by name (the store's deletion hook)."""
    deleted: Counter[str] = Counter()

    def hook(rt: Any, obj: dict[str, Any], grace: int | None) -> bool:
        if rt.plural == "pods":
            deleted[obj["metadata"]["name"]] += 1
        return False  # not deferred: deleted as usual
    emulator.emulator.store.on_delete = hook
    return deleted


def started_events(emulator: EmulatorThread) -> Counter[str]:
    """Runs started, by experiment: each run posts one Started Event (a side effect, not a log line)."""
    return Counter(e["involvedObject"]["name"] for e in emulator.list("events", NS) if e["reason"] == "Started")


def short(name: str, shard: int, **overrides: Any) -> dict[str, Any]:
    return experiment(name, NS, target={"selector": {"matchLabels": {"app": "checkout", "shard": str(shard)}},
                                        "mode": "all"},
                      load={"service": {"name": "checkout", "port": 8080}, "path": "/", "rate": 60,
                            "concurrency": 2, "timeout": "1s"}, **overrides)


def test_two_operators_kill_each_target_exactly_once(emulator: EmulatorThread, service: ServiceThread,
                                                     tmp_path: pathlib.Path) -> None:
    make_service(emulator, NS)
    names = [f"cex-{i}" for i in range(4)]
    for i in range(len(names)):
        make_pod(emulator, NS, f"checkout-{i}", {"app": "checkout", "shard": str(i)})
    deleted = count_pod_deletions(emulator)
    with operators(emulator, service, tmp_path):
        for i, name in enumerate(names):
            emulator.create("chaosexperiments", short(name, i, phases={"baseline": "2s", "chaos": "2s",
                                                                      "recovery": "1s"}), NS)
        finished = [wait_phase(emulator, name, TERMINAL, timeout=60) for name in names]
    assert all(s["phase"] == "Completed" and s["injections"] for s in finished), finished
    # Side effects, not log lines: one deletion per target pod, none of any other pod, and one run per experiment.
    assert deleted == Counter({f"checkout-{i}": 1 for i in range(len(names))})
    assert started_events(emulator) == Counter({name: 1 for name in names})


def test_leader_sigkilled_mid_chaos_the_standby_finishes_everything(
        emulator: EmulatorThread, service: ServiceThread, tmp_path: pathlib.Path) -> None:
    make_service(emulator, NS)
    names = [f"net-{i}" for i in range(3)]
    for i in range(len(names)):
        make_pod(emulator, NS, f"checkout-{i}", {"app": "checkout", "shard": str(i)})
    with FakeKubelet(emulator) as kubelet, operators(emulator, service, tmp_path) as procs:
        for i, name in enumerate(names):
            emulator.create("chaosexperiments", short(name, i, fault={"kind": "NetworkBandwidth", "rate": "1mbit"},
                                                     phases={"baseline": "2s", "chaos": "60s", "recovery": "1s"}), NS)
        for name in names:
            wait_for(f"{name} injected", lambda n=name: any(  # type: ignore[misc]
                r["state"] == "Injected" for r in status_of(emulator, n).get("injections", [])), timeout=60)
        leader = holder(emulator)
        assert leader in procs and len(kubelet.helpers("fault")) == len(names)
        procs[leader].send_signal(signal.SIGKILL)  # no graceful stop, no recovery, no Lease release
        killed = time.monotonic()
        procs[leader].wait(10)
        standby = wait_for("the standby to lead", lambda: (h := holder(emulator)) not in (None, leader) and h,
                           timeout=30)
        took_over = time.monotonic()
        finished = [wait_phase(emulator, name, TERMINAL, timeout=60) for name in names]
        all_done = time.monotonic()
        wait_for("no helper pod left", lambda: kubelet.helpers() == [], timeout=30)
    print(f"failover: {standby} led {took_over - killed:.2f}s after the SIGKILL (lease {LEASE[0]}s, "
          f"retry {LEASE[2]}s); all {len(names)} experiments terminal {all_done - killed:.2f}s after it")
    for status in finished:
        assert (status["phase"], status["reason"]) == ("Failed", "OperatorRestarted"), status
        assert status["injections"] and all(r["state"] == "Recovered" for r in status["injections"]), status
