"""Network fault modules: the agent argv of each kind with its scope and owner, and destinations resolved when the
fault is applied (CIDRs, a Service's ClusterIPs and pods, a selector's pods), over an in-memory KubeApi."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from chaos_operator.faults.base import FaultContext, FaultError
from chaos_operator.faults.helpers.pod_spec import helper_name
from chaos_operator.models.spec import ExperimentSpec, Fault
from chaos_operator.models.status import Injection, RecordState
from tests.support import faultpods
from tests.support.fake_kube import NS, OPS, UID, FakeKube, fast_clock, running

EXP_UID = "7b1c2d3e-4f50-4a6b-9c8d-0e1f2a3b4c5d"
READY = ["--ready-file", "/run/chaos-agent/applied"]
HEAD = ["--pod-uid", UID, "--proc-root", "/host/proc"]


def model(body: dict[str, Any]) -> Any:
    return TypeAdapter(Fault).validate_python(body)


@pytest.mark.parametrize(("body", "destinations", "argv"), [
    ({"kind": "NetworkLoss", "percent": 12.5, "correlation": 25}, (),
     ["loss", "--duration", "60", *READY, *HEAD, "--percent", "12.5", "--correlation", "25", "--owner", EXP_UID]),
    ({"kind": "NetworkLoss", "percent": 0.014}, (), ["loss", "--duration", "60", *READY, *HEAD, "--percent", "0.01",
                                                    "--owner", EXP_UID]),
    ({"kind": "NetworkCorruption", "percent": 100, "ports": [80, 443], "direction": "ingress"}, (),
     ["corrupt", "--duration", "60", *READY, *HEAD, "--percent", "100", "--port", "80", "--port", "443", "--direction",
      "ingress", "--owner", EXP_UID]),
    ({"kind": "NetworkDuplication", "percent": 1, "interface": "eth1"}, (),
     ["duplicate", "--duration", "60", *READY, *HEAD, "--percent", "1", "--owner", EXP_UID, "--interface", "eth1"]),
    ({"kind": "NetworkPartition", "destinations": [{"service": "db"}], "direction": "both"},
     ("10.96.0.10/32", "10.1.2.3/32"),
     ["partition", "--duration", "60", *READY, *HEAD, "--destination", "10.96.0.10/32", "--destination", "10.1.2.3/32",
      "--direction", "both", "--owner", EXP_UID]),
    ({"kind": "NetworkLatency", "latency": "10ms", "destinations": [{"cidr": "10.0.0.0/8"}], "ports": [5432]},
     ("10.0.0.0/8",), ["netem", "--duration", "60", *READY, *HEAD, "--latency", "10ms", "--destination", "10.0.0.0/8",
                       "--port", "5432", "--owner", EXP_UID]),
])
def test_agent_argv_with_scope_and_owner(body: dict[str, Any], destinations: tuple[str, ...],
                                         argv: list[str]) -> None:
    assert faultpods.argv(model(body), UID, 60.0, "fault", EXP_UID, destinations) == argv


def test_the_revert_argv_ignores_the_scope() -> None:
    fault = model({"kind": "NetworkPartition", "destinations": [{"cidr": "10.0.0.0/8"}], "direction": "both",
                   "ports": [80]})
    assert faultpods.argv(fault, UID, 60.0, "revert", EXP_UID, ("10.0.0.0/8",)) == [
        "partition", "--revert-only", *HEAD, "--owner", EXP_UID]


def ctx(kube: FakeKube, fault: dict[str, Any]) -> FaultContext:
    spec = ExperimentSpec.model_validate({
        "target": {"selector": {"matchLabels": {"app": "checkout"}}}, "fault": fault,
        "load": {"service": {"name": "checkout", "port": 8080}}, "phases": {"chaos": "30s"}})
    return FaultContext(kube=kube, clock=fast_clock(), namespace=NS, experiment="exp", spec=spec,  # type: ignore[arg-type]
                        label_selector="app=checkout", ready_before=1, operator_namespace=OPS,
                        experiment_uid=EXP_UID, image="img:1")


def peer(kube: FakeKube, name: str, labels: dict[str, str], ips: list[str]) -> None:
    pod = kube.add_pod(name, uid=f"uid-{name}", labels=labels)
    pod["status"] = {"podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips]}


async def resolve(kube: FakeKube, destinations: list[dict[str, Any]]) -> list[str]:
    fault = {"kind": "NetworkPartition", "destinations": destinations}
    c = ctx(kube, fault)
    return list(await faultpods.helper_fault("NetworkPartition").destinations(c, c.spec.fault))


async def test_destinations_resolve_when_applied() -> None:
    kube = FakeKube()
    peer(kube, "db-0", {"app": "db", "tier": "a"}, ["10.1.0.5", "fd00::5"])
    peer(kube, "db-1", {"app": "db", "tier": "b"}, ["10.1.0.6"])
    peer(kube, "web-0", {"app": "web"}, ["10.1.0.7"])
    kube.services[(NS, "db")] = {"spec": {"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                                          "selector": {"app": "db"}}}
    kube.services[(NS, "headless")] = {"spec": {"clusterIP": "None", "selector": {"app": "web"}}}
    assert await resolve(kube, [{"cidr": "10.1.2.3/8"}, {"cidr": "192.0.2.7"}]) == ["10.0.0.0/8", "192.0.2.7/32"]
    assert await resolve(kube, [{"service": "db"}]) == ["10.96.0.10/32", "10.1.0.5/32", "fd00::5/128", "10.1.0.6/32"]
    assert await resolve(kube, [{"service": "headless"}]) == ["10.1.0.7/32"]
    assert await resolve(kube, [{"selector": {"matchLabels": {"app": "db", "tier": "b"}}}]) == ["10.1.0.6/32"]
    assert await resolve(kube, [{"service": "db"}, {"cidr": "10.96.0.10"}]) == [
        "10.96.0.10/32", "10.1.0.5/32", "fd00::5/128", "10.1.0.6/32"]  # each address once


@pytest.mark.parametrize(("destinations", "error"), [
    ([{"service": "missing"}], "Service missing not found"),
    ([{"selector": {"matchLabels": {"app": "nobody"}}}], "resolve to no address"),
])
async def test_unresolvable_destinations_fail_the_injection(destinations: list[dict[str, Any]], error: str) -> None:
    with pytest.raises(FaultError, match=error):
        await resolve(FakeKube(), destinations)


async def test_apply_gives_the_helper_the_resolved_destinations_and_the_owner() -> None:
    kube = FakeKube()
    kube.add_pod("checkout-1")
    peer(kube, "db-0", {"app": "db"}, ["10.1.0.5"])
    kube.on_create = lambda pod: running()
    fault = {"kind": "NetworkLoss", "percent": 5, "destinations": [{"selector": {"matchLabels": {"app": "db"}}}]}
    impl = faultpods.helper_fault("NetworkLoss")
    changes = await impl.apply(ctx(kube, fault), Injection(target="checkout-1", uid=UID, state=RecordState.PENDING))
    name = helper_name("exp", EXP_UID, UID, "NetworkLoss", "fault", family="net")
    assert changes["helper_pod"] == name
    args = kube.pods[(OPS, name)]["spec"]["containers"][0]["args"]
    assert args == ["loss", "--duration", "30", *READY, *HEAD, "--percent", "5", "--destination", "10.1.0.5/32",
                    "--owner", EXP_UID]
