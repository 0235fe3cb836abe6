"""The operator refuses or stops early, before any side effect, for the reasons the API promises."""

from __future__ import annotations

import time

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.operator_thread import OperatorThread

from tests.integration.conftest import experiment, make_pod, make_service
from tests.support.harness import OPERATOR_TOKEN, ServiceThread, StaticResolver
from tests.support.waits import wait_for, wait_phase

NS = "shop"


def _pod_uids(emu: EmulatorThread, ns: str = NS) -> set[str]:
    return {p["metadata"]["uid"] for p in emu.list("pods", ns)}


def _setup(emu: EmulatorThread, svc: ServiceThread, ns: str = NS) -> StaticResolver:
    make_service(emu, ns)
    for i in range(3):
        make_pod(emu, ns, f"checkout-{i}", {"app": "checkout"})
    return StaticResolver({(ns, "checkout", 8080): [svc.url]})


def _events(emu: EmulatorThread, name: str, ns: str = NS) -> list[str]:
    return [e["reason"] for e in emu.list("events", ns) if e["involvedObject"]["name"] == name]


def test_invalid_spec_fails_once_with_the_field_named(emulator: EmulatorThread, service: ServiceThread) -> None:
    resolver = _setup(emulator, service)
    before = _pod_uids(emulator)
    bad = experiment("bad", NS, load={"service": {"name": "checkout", "port": 8080}, "rate": "fast"})
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", bad, NS)
        status = wait_phase(emulator, "bad", timeout=30)
        # kopf records the handled spec after the handler's status write: only then is nothing left to write.
        handled = wait_for("kopf's handled mark", lambda: (obj := emulator.get("chaosexperiments", NS, "bad"))
                           and "chaosoperator.dev/last-handled-configuration" in obj["metadata"].get("annotations", {})
                           and obj)
        rv = handled["metadata"]["resourceVersion"]
        time.sleep(1.5)  # a retry loop would write again in this time
        assert emulator.get("chaosexperiments", NS, "bad")["metadata"]["resourceVersion"] == rv  # type: ignore[index]
    assert status["phase"] == "Failed"
    assert status["reason"] == "InvalidSpec"
    assert "spec.load.rate" in status["message"]
    assert _pod_uids(emulator) == before
    assert service.hits == 0


def test_no_targets(emulator: EmulatorThread, service: ServiceThread) -> None:
    resolver = _setup(emulator, service)
    target = {"selector": {"matchLabels": {"app": "nothing-here"}}, "mode": "all"}
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("none", NS, target=target), NS)
        status = wait_phase(emulator, "none", timeout=30)
    assert (status["phase"], status["reason"]) == ("Failed", "NoTargets")
    assert service.hits == 0


def test_not_ready_and_terminating_pods_are_never_targets(emulator: EmulatorThread, service: ServiceThread) -> None:
    make_service(emulator, NS)
    make_pod(emulator, NS, "checkout-unready", {"app": "checkout"}, ready=False)
    resolver = StaticResolver({(NS, "checkout", 8080): [service.url]})
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("unready", NS), NS)
        status = wait_phase(emulator, "unready", timeout=30)
    assert (status["phase"], status["reason"]) == ("Failed", "NoTargets")
    assert "not ready" in status["message"].lower() or "ready" in status["message"]


@pytest.mark.parametrize("ns", ["kube-system", "chaos-system", "billing"])
def test_protected_namespace_refused(emulator: EmulatorThread, service: ServiceThread, ns: str) -> None:
    """Built-in protected namespaces, the operator's own, and one the installation protects (Helm value
    protectedNamespaces -> --protect-namespace)."""
    resolver = _setup(emulator, service, ns)
    before = _pod_uids(emulator, ns)
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess",
                        operator_namespace="chaos-system", protected=frozenset({"billing"})):
        emulator.create("chaosexperiments", experiment("x", ns), ns)
        status = wait_phase(emulator, "x", timeout=30, ns=ns)
    assert (status["phase"], status["reason"]) == ("Failed", "NamespaceRefused")
    assert _pod_uids(emulator, ns) == before
    assert service.hits == 0


def test_missing_service_fails_before_injection(emulator: EmulatorThread, service: ServiceThread) -> None:
    _setup(emulator, service)
    before = _pod_uids(emulator)
    resolver = StaticResolver({})
    load = {"service": {"name": "payments", "port": 8080}}
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("nosvc", NS, load=load), NS)
        status = wait_phase(emulator, "nosvc", timeout=30)
    assert (status["phase"], status["reason"]) == ("Failed", "LoadTargetNotFound")
    assert "payments" in status["message"]
    assert _pod_uids(emulator) == before
    assert status.get("injections", []) == []


def test_dry_run_records_targets_and_touches_nothing(emulator: EmulatorThread, service: ServiceThread) -> None:
    resolver = _setup(emulator, service)
    before = _pod_uids(emulator)
    with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
        emulator.create("chaosexperiments", experiment("dry", NS, dryRun=True), NS)
        status = wait_phase(emulator, "dry", timeout=30)
    assert (status["phase"], status["reason"]) == ("Completed", "DryRun")
    assert len(status["targets"]) == 1 and status["targets"][0]["uid"] in before
    assert status["seed"] == 7
    assert status.get("injections", []) == []
    assert _pod_uids(emulator) == before
    assert service.hits == 0
    assert "TargetsSelected" in _events(emulator, "dry")


def test_unhealthy_baseline_injects_nothing(emulator: EmulatorThread) -> None:
    with ServiceThread(status=503) as failing:
        resolver = _setup(emulator, failing)
        before = _pod_uids(emulator)
        with OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
            emulator.create("chaosexperiments", experiment("sick", NS), NS)
            status = wait_phase(emulator, "sick", timeout=30)
    assert (status["phase"], status["verdict"], status["reason"]) == ("Completed", "Inconclusive",
                                                                      "BaselineUnhealthy")
    assert status["phases"]["baseline"]["requests"] >= 150
    assert status["phases"]["baseline"]["errorClasses"]["http5xx"] == status["phases"]["baseline"]["requests"]
    assert "chaos" not in status["phases"]
    assert _pod_uids(emulator) == before
