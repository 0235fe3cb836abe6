"""The operator refuses or stops early, before any side effect, for the reasons the API promises."""

from __future__ import annotations

import time
from typing import Any

import pytest
from chaos_sandbox.emulator import EmulatorThread

from chaos_operator.load.resolver import StaticResolver
from tests.integration.conftest import experiment, make_pod, make_service
from tests.integration.harness import OperatorThread, ServiceThread, wait_for

pytestmark = pytest.mark.integration
NS = "shop"


def _status(emu: EmulatorThread, name: str, ns: str = NS) -> dict[str, Any]:
    obj = emu.get("chaosexperiments", ns, name)
    return dict(obj.get("status") or {}) if obj else {}


def _finished(emu: EmulatorThread, name: str, ns: str = NS, timeout: float = 30) -> dict[str, Any]:
    return dict(wait_for(f"{name} to finish",
                         lambda: (s := _status(emu, name, ns)).get("phase") in ("Completed", "Failed", "Aborted")
                         and s, timeout=timeout))


def _pod_uids(emu: EmulatorThread, ns: str = NS) -> set[str]:
    return {p["metadata"]["uid"] for p in emu.list("pods", ns)}


def _setup(emu: EmulatorThread, svc: ServiceThread, ns: str = NS) -> StaticResolver:
    make_service(emu, ns)
    for i in range(3):
        make_pod(emu, ns, f"checkout-{i}", {"app": "checkout"})
    return StaticResolver({(ns, "checkout", 8080): [svc.url]})


def _events(emu: EmulatorThread, name: str, ns: str = NS) -> list[str]:
    return [e["reason"] for e in emu.list("events", ns) if e["involvedObject"]["name"] == name]


def test_invalid_spec_fails_once_with_the_field_named(cluster: EmulatorThread, service: ServiceThread) -> None:
    resolver = _setup(cluster, service)
    before = _pod_uids(cluster)
    bad = experiment("bad", NS, load={"service": {"name": "checkout", "port": 8080}, "rate": "fast"})
    with OperatorThread(cluster.url, resolver):
        cluster.create("chaosexperiments", bad, NS)
        status = _finished(cluster, "bad")
        # kopf records the handled spec after the handler's status write: only then is nothing left to write.
        handled = wait_for("kopf's handled mark", lambda: (obj := cluster.get("chaosexperiments", NS, "bad"))
                           and "chaosoperator.dev/last-handled-configuration" in obj["metadata"].get("annotations", {})
                           and obj)
        rv = handled["metadata"]["resourceVersion"]
        time.sleep(1.5)  # a retry loop would write again in this time
        assert cluster.get("chaosexperiments", NS, "bad")["metadata"]["resourceVersion"] == rv  # type: ignore[index]
    assert status["phase"] == "Failed"
    assert status["reason"] == "InvalidSpec"
    assert "spec.load.rate" in status["message"]
    assert _pod_uids(cluster) == before
    assert service.hits == 0


def test_no_targets(cluster: EmulatorThread, service: ServiceThread) -> None:
    resolver = _setup(cluster, service)
    target = {"selector": {"matchLabels": {"app": "nothing-here"}}, "mode": "all"}
    with OperatorThread(cluster.url, resolver):
        cluster.create("chaosexperiments", experiment("none", NS, target=target), NS)
        status = _finished(cluster, "none")
    assert (status["phase"], status["reason"]) == ("Failed", "NoTargets")
    assert service.hits == 0


def test_not_ready_and_terminating_pods_are_never_targets(cluster: EmulatorThread, service: ServiceThread) -> None:
    make_service(cluster, NS)
    make_pod(cluster, NS, "checkout-unready", {"app": "checkout"}, ready=False)
    resolver = StaticResolver({(NS, "checkout", 8080): [service.url]})
    with OperatorThread(cluster.url, resolver):
        cluster.create("chaosexperiments", experiment("unready", NS), NS)
        status = _finished(cluster, "unready")
    assert (status["phase"], status["reason"]) == ("Failed", "NoTargets")
    assert "not ready" in status["message"].lower() or "ready" in status["message"]


@pytest.mark.parametrize("ns", ["kube-system", "chaos-system", "billing"])
def test_protected_namespace_refused(cluster: EmulatorThread, service: ServiceThread, ns: str) -> None:
    """Built-in protected namespaces, the operator's own, and one the installation protects (Helm value
    protectedNamespaces -> --protect-namespace)."""
    resolver = _setup(cluster, service, ns)
    before = _pod_uids(cluster, ns)
    with OperatorThread(cluster.url, resolver, operator_namespace="chaos-system", protected=frozenset({"billing"})):
        cluster.create("chaosexperiments", experiment("x", ns), ns)
        status = _finished(cluster, "x", ns)
    assert (status["phase"], status["reason"]) == ("Failed", "NamespaceRefused")
    assert _pod_uids(cluster, ns) == before
    assert service.hits == 0


def test_missing_service_fails_before_injection(cluster: EmulatorThread, service: ServiceThread) -> None:
    _setup(cluster, service)
    before = _pod_uids(cluster)
    resolver = StaticResolver({})
    load = {"service": {"name": "payments", "port": 8080}}
    with OperatorThread(cluster.url, resolver):
        cluster.create("chaosexperiments", experiment("nosvc", NS, load=load), NS)
        status = _finished(cluster, "nosvc")
    assert (status["phase"], status["reason"]) == ("Failed", "LoadTargetNotFound")
    assert "payments" in status["message"]
    assert _pod_uids(cluster) == before
    assert status.get("injections", []) == []


def test_dry_run_records_targets_and_touches_nothing(cluster: EmulatorThread, service: ServiceThread) -> None:
    resolver = _setup(cluster, service)
    before = _pod_uids(cluster)
    with OperatorThread(cluster.url, resolver):
        cluster.create("chaosexperiments", experiment("dry", NS, dryRun=True), NS)
        status = _finished(cluster, "dry")
    assert (status["phase"], status["reason"]) == ("Completed", "DryRun")
    assert len(status["targets"]) == 1 and status["targets"][0]["uid"] in before
    assert status["seed"] == 7
    assert status.get("injections", []) == []
    assert _pod_uids(cluster) == before
    assert service.hits == 0
    assert "TargetsSelected" in _events(cluster, "dry")


def test_unhealthy_baseline_injects_nothing(cluster: EmulatorThread) -> None:
    with ServiceThread(status=503) as failing:
        resolver = _setup(cluster, failing)
        before = _pod_uids(cluster)
        with OperatorThread(cluster.url, resolver):
            cluster.create("chaosexperiments", experiment("sick", NS), NS)
            status = _finished(cluster, "sick")
    assert (status["phase"], status["verdict"], status["reason"]) == ("Completed", "Inconclusive",
                                                                      "BaselineUnhealthy")
    assert status["phases"]["baseline"]["requests"] >= 150
    assert status["phases"]["baseline"]["errorClasses"]["http5xx"] == status["phases"]["baseline"]["requests"]
    assert "chaos" not in status["phases"]
    assert _pod_uids(cluster) == before
