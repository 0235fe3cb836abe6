"""The agent's argv, against the agent itself: every argv we build for an accepted spec parses with the agent's own
parser and passes the agent's own validators; and no element of it can be read by a shell or as a stray option,
whatever the (accepted) spec. Specs with metacharacters never get that far: the models refuse them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from chaos_operator.agent import modes, tc
from chaos_operator.models.duration import DURATION_PATTERN
from chaos_operator.models.spec import BUCKET_SIZE, INTERFACE, MEMORY_SIZE, RATE, Fault
from tests.support import faultpods
from tests.support.helper_pods import agent_accepts

UID = "0d5e8f3a-91c2-4b7e-8a61-5f2c9d7e3b10"
SAFE_ELEMENT = re.compile(r"^[A-Za-z0-9_./%:-]+$")  # ":" for IPv6 destinations
VALUE_FLAGS = {"--duration", "--pod-uid", "--proc-root", "--interface", "--latency", "--jitter", "--correlation",
               "--rate", "--burst", "--limit", "--cpu", "--cpu-load", "--vm", "--vm-bytes", "--percent", "--owner",
               "--destination", "--port", "--direction", "--ready-file", "--cgroup-root"}
FAULT = TypeAdapter(Fault)
OWNER = "7b1c2d3e-4f50-4a6b-9c8d-0e1f2a3b4c5d"


def agent_argv(fault: Any, role: str = "fault", chaos_s: float = 90.0, destinations: tuple[str, ...] = ()) -> list[str]:
    owner = OWNER if faultpods.helper_fault(fault.kind).needs_revert else None
    return faultpods.argv(fault, UID, chaos_s, role, owner, destinations)  # type: ignore[arg-type]


def ms(value: int) -> str:
    return f"{value // 1000}s" if value and value % 1000 == 0 else f"{value}ms"


latency_faults = st.builds(
    lambda latency_ms, jitter_share, correlation, interface: {
        "kind": "NetworkLatency", "latency": ms(latency_ms), "jitter": ms(int(latency_ms * jitter_share)),
        "correlation": correlation, **({"interface": interface} if interface else {})},
    st.integers(1, 10_000), st.floats(0, 1), st.integers(0, 100),
    st.one_of(st.none(), st.from_regex(INTERFACE, fullmatch=True)))
bandwidth_faults = st.builds(
    lambda rate, burst, limit, interface: {
        "kind": "NetworkBandwidth", "rate": rate, **({"burst": burst} if burst else {}),
        **({"limit": limit} if limit else {}), **({"interface": interface} if interface else {})},
    st.from_regex(RATE, fullmatch=True), st.one_of(st.none(), st.from_regex(BUCKET_SIZE, fullmatch=True)),
    st.one_of(st.none(), st.from_regex(BUCKET_SIZE, fullmatch=True)),
    st.one_of(st.none(), st.from_regex(INTERFACE, fullmatch=True)))
stress_faults = st.one_of(
    st.builds(lambda w, load: {"kind": "CPUStress", "workers": w, "load": load}, st.integers(1, 32),
              st.integers(1, 100)),
    st.builds(lambda w, size: {"kind": "MemoryStress", "workers": w, "size": size}, st.integers(1, 32),
              st.from_regex(MEMORY_SIZE, fullmatch=True)))


percent_faults = st.builds(
    lambda kind, percent, correlation, ports, direction: {
        "kind": kind, "percent": percent, **({"correlation": correlation} if kind == "NetworkLoss" else {}),
        **({"ports": ports} if ports else {}), "direction": direction},
    st.sampled_from(["NetworkLoss", "NetworkCorruption", "NetworkDuplication"]),
    st.one_of(st.integers(1, 100), st.floats(0.01, 100)), st.integers(0, 100),
    st.lists(st.integers(1, 65535), max_size=16), st.sampled_from(["egress", "ingress", "both"]))
partition_faults = st.builds(
    lambda cidrs, direction: {"kind": "NetworkPartition", "destinations": [{"cidr": c} for c in cidrs],
                              "direction": direction},
    st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=16), st.sampled_from(["egress", "both"]))
resolved = st.lists(st.one_of(st.ip_addresses(v=4).map(lambda a: f"{a}/32"),
                              st.ip_addresses(v=6).map(lambda a: f"{a}/128")), max_size=8)


def _accepted(body: dict[str, Any]) -> Any:
    try:
        return FAULT.validate_python(body)
    except ValidationError:
        return None  # e.g. an interface that is all dots: the models refuse it, no argv is ever built


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(latency_faults, bandwidth_faults, stress_faults, percent_faults, partition_faults),
       chaos_s=st.floats(1, 3600), role=st.sampled_from(["fault", "revert"]), destinations=resolved)
def test_every_accepted_spec_gives_a_safe_argv(body: dict[str, Any], chaos_s: float, role: str,
                                               destinations: list[str]) -> None:
    fault = _accepted(body)
    if fault is None or (role == "revert" and not faultpods.helper_fault(fault.kind).needs_revert):
        return
    if fault.kind == "NetworkPartition":
        destinations = [f"{d['cidr']}/32" for d in body["destinations"]]  # what the operator resolves them to
    elif not faultpods.helper_fault(fault.kind).needs_revert:
        destinations = []
    argv = agent_argv(fault, role, chaos_s, tuple(destinations))
    assert argv[0] in modes.MODES
    for element in argv:
        assert SAFE_ELEMENT.fullmatch(element), element  # no whitespace, quote, $, `, ;, |, &, (, ), <, >, newline
    position = 1
    while position < len(argv):  # only our own flags, and no value that could read as one
        flag = argv[position]
        assert flag in VALUE_FLAGS | {"--revert-only"}, argv
        if flag in VALUE_FLAGS:
            assert not argv[position + 1].startswith("-"), argv
            position += 1
        position += 1
    agent_accepts(argv)


@pytest.mark.parametrize("body", [
    {"kind": "NetworkLatency", "latency": "1ms"},
    {"kind": "NetworkLatency", "latency": "10s", "jitter": "10s", "correlation": 100, "interface": "eth0.100"},
    {"kind": "NetworkBandwidth", "rate": "8kbit"},
    {"kind": "NetworkBandwidth", "rate": "99gbit", "interface": "veth_a-1"},
    {"kind": "NetworkBandwidth", "rate": "1mbit", "burst": "16Ki", "limit": "99Mi"},
    {"kind": "CPUStress"},
    {"kind": "CPUStress", "workers": 32, "load": 1},
    {"kind": "MemoryStress", "size": "1Mi"},
    {"kind": "MemoryStress", "workers": 32, "size": "64Gi"},
    {"kind": "NetworkLoss", "percent": 0.01}, {"kind": "NetworkLoss", "percent": 100, "correlation": 100},
    {"kind": "NetworkCorruption", "percent": 12.345, "ports": [1, 65535], "direction": "ingress"},
    {"kind": "NetworkDuplication", "percent": 50, "direction": "both", "interface": "eth0"},
    {"kind": "NetworkPartition", "destinations": [{"cidr": "0.0.0.0/0"}], "direction": "both"},
])
@pytest.mark.parametrize("role", ["fault", "revert"])
def test_the_agent_accepts_the_bounds(body: dict[str, Any], role: str) -> None:
    fault = FAULT.validate_python(body)
    assert fault.kind != "PodKill"
    if role == "revert" and not faultpods.helper_fault(fault.kind).needs_revert:
        return
    destinations = ("10.0.0.0/8",) if fault.kind == "NetworkPartition" else ()
    agent_accepts(agent_argv(fault, role, destinations=destinations))


def test_the_agent_gets_burst_and_limit_in_bytes() -> None:
    fault = FAULT.validate_python({"kind": "NetworkBandwidth", "rate": "2mbit", "burst": "64Ki", "limit": "99Mi"})
    plan = agent_accepts(agent_argv(fault))
    assert isinstance(plan, modes.Shape) and plan.qdisc == tc.Tbf("2mbit", 65536, 99 * 1024 * 1024)


METACHARACTERS = ["$(reboot)", "`id`", "a;b", "a|b", "a&&b", "a\nb", "a b", "'a'", '"a"', "a>b", "-x", "--help"]


@pytest.mark.parametrize("field", ["interface", "rate", "burst", "limit", "size", "latency", "jitter"])
@pytest.mark.parametrize("value", METACHARACTERS)
def test_metacharacters_are_refused_before_any_argv(field: str, value: str) -> None:
    kind = {"interface": "NetworkLatency", "latency": "NetworkLatency", "jitter": "NetworkLatency",
            "size": "MemoryStress"}.get(field, "NetworkBandwidth")
    base = {"NetworkLatency": {"latency": "10ms"}, "NetworkBandwidth": {"rate": "1mbit"},
            "MemoryStress": {"size": "1Gi"}}[kind]
    with pytest.raises(ValidationError):
        FAULT.validate_python({"kind": kind, **base, field: value})
    for pattern in (INTERFACE, RATE, BUCKET_SIZE, MEMORY_SIZE, DURATION_PATTERN):
        assert not re.fullmatch(pattern, value)
