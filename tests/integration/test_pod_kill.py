"""PodKill end to end: the real operator under kopf, the emulator over HTTP, load to a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.emulator.replicas import ReplicaKeeper
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.models.duration import parse_duration
from tests.integration.conftest import experiment, make_pod, replicas
from tests.support.harness import OPERATOR_TOKEN, ServiceThread, StaticResolver
from tests.support.waits import status_of, wait_for, wait_phase

NS = "shop"
LABELS = {"app": "checkout", "track": "stable"}


@pytest.fixture
def keeper(emulator: EmulatorThread) -> Iterator[ReplicaKeeper]:
    with replicas(emulator, LABELS, 3, start_delay=0.5) as keep:
        yield keep




def uids(emu: EmulatorThread, ns: str = NS, selector: str | None = None) -> set[str]:
    return {p["metadata"]["uid"] for p in emu.list("pods", ns, label_selector=selector)}


def events(emu: EmulatorThread, name: str) -> list[str]:
    return [e["reason"] for e in emu.list("events", NS) if e["involvedObject"]["name"] == name]


def test_full_run_measures_every_phase(emulator: EmulatorThread, keeper: ReplicaKeeper,
                                       resolver: StaticResolver, service: ServiceThread) -> None:
    before = uids(emulator, selector="app=checkout")
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("kill-one", NS, slos={
            "maxErrorRate": 0.05, "maxLatencyP95": "500ms", "maxLatencyDegradation": "300%",
            "recoveryWithin": "10s"}), NS)
        status = wait_phase(emulator, "kill-one", ("Completed", "Failed", "Aborted"))
    assert (status["phase"], status["verdict"], status["reason"]) == ("Completed", "Passed", "SLOsHeld"), status
    for phase, seconds in (("baseline", 2), ("chaos", 3), ("recovery", 3)):
        figures = status["phases"][phase]
        # The chaos figures leave out the ramp before the fault held (docs/scoring.md); together they are the window.
        ramp = figures.get("ramp", {}).get("requests", 0)
        assert figures["requests"] + ramp == pytest.approx(100 * seconds, abs=2)
        assert figures["errors"] == 0
        assert figures["throughput"] > 50
        lat = figures["latency"]
        assert 0 < parse_duration(lat["p50"]) <= parse_duration(lat["p99"]) <= parse_duration(lat["max"])
    killed = status["injections"]
    assert len(killed) == 1 and killed[0]["state"] == "Recovered"
    assert killed[0]["uid"] in before and killed[0]["uid"] not in uids(emulator)
    assert status["targets"][0]["uid"] == killed[0]["uid"]
    # The replacement becomes Ready 0.5 s after the kill: that is the workload's recovery time.
    assert 0.4 <= parse_duration(status["recoveryTime"]) < 5
    assert emulator.call(keeper.ready_count) == 3
    assert 0 <= status["score"] <= 100 and status["grade"] in ("GOOD", "MODERATE", "POOR")
    names = {c["name"] for c in status["checks"]}
    assert {"maxErrorRate", "maxLatencyP95", "maxLatencyDegradation", "recoveryWithin", "recovered"} <= names
    assert all(c["passed"] for c in status["checks"])
    assert {"Started", "TargetsSelected", "Injected", "Recovered", "Completed"} <= set(events(emulator, "kill-one"))
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Progressing": "False", "FaultActive": "False",
                                                                     "FaultApplied": "True"}
    applied = next(c for c in status["conditions"] if c["type"] == "FaultApplied")  # its evidence: the UID deleted
    assert applied["message"].endswith(f"; observed: deleted 1 pod(s), UID {killed[0]['uid']}"), applied


def test_selector_picks_exactly_the_intended_pods(emulator: EmulatorThread, keeper: ReplicaKeeper,
                                                   resolver: StaticResolver) -> None:
    intended = uids(emulator, selector="app=checkout,track=stable")
    decoys = {
        make_pod(emulator, NS, "checkout-canary", {"app": "checkout", "track": "canary"}),
        make_pod(emulator, NS, "cart-0", {"app": "cart", "track": "stable"}),
        make_pod(emulator, NS, "checkout-nolabel", {"app": "checkout"}),
        make_pod(emulator, "other", "checkout-other", dict(LABELS)),
    }
    target = {"selector": {"matchLabels": {"app": "checkout"},
                           "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable"]}]},
              "mode": "all"}
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("all-stable", NS, target=target), NS)
        status = wait_phase(emulator, "all-stable", ("Completed", "Failed", "Aborted"))
    assert status["phase"] == "Completed", status
    assert {r["uid"] for r in status["injections"]} == intended
    assert intended.isdisjoint(uids(emulator) | uids(emulator, "other"))
    assert decoys <= uids(emulator) | uids(emulator, "other")


def test_interval_repeats_kills_on_fresh_pods(emulator: EmulatorThread, keeper: ReplicaKeeper,
                                              resolver: StaticResolver) -> None:
    fault = {"kind": "PodKill", "interval": "1s"}
    phases = {"baseline": "2s", "chaos": "3500ms", "recovery": "2s"}
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("repeat", NS, fault=fault, phases=phases), NS)
        status = wait_phase(emulator, "repeat", ("Completed", "Failed", "Aborted"))
    killed = [r["uid"] for r in status["injections"]]
    assert len(killed) >= 3 and len(set(killed)) == len(killed)
    assert all(r["state"] == "Recovered" for r in status["injections"])
    assert not set(killed) & uids(emulator)


def test_a_target_replaced_during_the_baseline_is_no_kill_and_never_passes(
        emulator: EmulatorThread, keeper: ReplicaKeeper, resolver: StaticResolver) -> None:
    phases = {"baseline": "3s", "chaos": "3s", "recovery": "2s"}
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("stale", NS, phases=phases), NS)
        (chosen,) = wait_for("targets chosen", lambda: status_of(emulator, "stale").get("targets"))
        emulator.delete("pods", NS, chosen["name"], grace=0)  # a rollout replaces it before the chaos window
        status = wait_phase(emulator, "stale", ("Completed", "Failed", "Aborted"))
    (record,) = status["injections"]
    assert record["state"] == "Failed" and "nothing deleted" in record["message"], record
    assert "injectedAt" not in record
    assert (status["phase"], status["reason"]) == ("Failed", "InjectionFailed"), status
    assert status.get("verdict") != "Passed"
    assert "InjectionFailed" in events(emulator, "stale")


def _long_chaos(name: str) -> dict[str, Any]:
    return experiment(name, NS, phases={"baseline": "2s", "chaos": "60s", "recovery": "2s"})


def _quiet(service: ServiceThread) -> bool:
    hits = service.hits
    time.sleep(0.3)
    return service.hits == hits


def _hits_stop(service: ServiceThread) -> None:
    # Open loop at 100 req/s: if the load still ran, hits would grow by ~100 in this second.
    wait_for("load to stop", lambda: _quiet(service), 10)
    before = service.hits
    time.sleep(1.0)
    assert service.hits == before


def test_abort_mid_chaos(emulator: EmulatorThread, keeper: ReplicaKeeper, resolver: StaticResolver,
                         service: ServiceThread) -> None:
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", _long_chaos("stop-me"), NS)
        wait_for("injected", lambda: any(r["state"] == "Injected" for r in status_of(emulator, "stop-me")
                                         .get("injections", [])), 30)
        started = time.monotonic()
        emulator.patch("chaosexperiments", NS, "stop-me", {"spec": {"abort": True}})
        status = wait_phase(emulator, "stop-me", ("Aborted", "Completed", "Failed"), timeout=20)
        took = time.monotonic() - started
        _hits_stop(service)
    assert (status["phase"], status["reason"]) == ("Aborted", "Aborted")
    assert "verdict" not in status
    assert took < 15  # far inside the 60 s chaos window
    assert all(r["state"] == "Recovered" for r in status["injections"])
    assert "Aborted" in events(emulator, "stop-me")


def test_delete_mid_chaos_releases_the_finalizer(emulator: EmulatorThread, keeper: ReplicaKeeper,
                                                 resolver: StaticResolver, service: ServiceThread) -> None:
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", _long_chaos("delete-me"), NS)
        wait_phase(emulator, "delete-me", ("Chaos",))
        obj = emulator.get("chaosexperiments", NS, "delete-me")
        assert obj is not None and obj["metadata"].get("finalizers")
        emulator.delete("chaosexperiments", NS, "delete-me")
        wait_for("object gone", lambda: emulator.get("chaosexperiments", NS, "delete-me") is None, 30)
        _hits_stop(service)
    wait_for("workload whole", lambda: emulator.call(keeper.ready_count) == 3, 10)


def test_operator_restart_mid_chaos_ends_inconclusive(emulator: EmulatorThread, keeper: ReplicaKeeper,
                                                      resolver: StaticResolver, service: ServiceThread) -> None:
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", _long_chaos("restart"), NS)
        wait_for("injected", lambda: any(r["state"] == "Injected" for r in status_of(emulator, "restart")
                                         .get("injections", [])), 30)
    # The first operator is gone; the experiment is still in Chaos.
    assert status_of(emulator, "restart")["phase"] == "Chaos"
    _hits_stop(service)
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        status = wait_phase(emulator, "restart", ("Completed", "Aborted", "Failed"), timeout=20)
    assert (status["phase"], status.get("verdict"), status["reason"]) == ("Failed", None, "OperatorRestarted")
    assert all(r["state"] == "Recovered" for r in status["injections"])
