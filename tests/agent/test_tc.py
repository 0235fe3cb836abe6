"""tc argv builders refuse anything odd before building; parsers read real captured outputs."""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos_operator.agent import procfs, stress, tc

DATA = pathlib.Path(__file__).parent / "data"
NASTY = [";", "$", "(", ")", "|", "&", "`", "\n", " ", "\t", "'", '"', "<", ">", "*", "\\", "\x00", "é", "\u202e", "{"]
# What an accepted argv element may contain: nothing a shell, tc or a terminal would read specially.
SAFE_ELEMENT = re.compile(r"^[A-Za-z0-9_.:/=%-]+$")

# Each builder with a valid value for the field under test.
BUILDERS: dict[str, tuple[Callable[[str], list[str]], str]] = {
    "latency": (lambda v: tc.replace_argv(42, "eth0", tc.netem(v)), "100ms"),
    "jitter": (lambda v: tc.replace_argv(42, "eth0", tc.netem("100ms", v)), "10ms"),
    "correlation": (lambda v: tc.replace_argv(42, "eth0", tc.netem("100ms", "10ms", v)), "25"),
    "rate": (lambda v: tc.replace_argv(42, "eth0", tc.tbf(v)), "2mbit"),
    "interface": (lambda v: tc.replace_argv(42, v, tc.tbf("2mbit")), "eth0"),
    "interface-del": (lambda v: tc.delete_argv(42, v), "eth0"),
    "interface-show": (lambda v: tc.show_argv(42, v), "eth0"),
    "proc-root": (lambda v: tc.show_argv(42, "eth0", v), "/host/proc"),
    "route-proc-root": (lambda v: tc.default_route_argv(42, v), "/proc"),
    "pod-uid": (lambda v: [procfs.pod_uid(v)], "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
    "vm-bytes": (lambda v: stress.stress_argv(5, "/tmp", vm=1, vm_bytes=v), "256M"),
    "temp-path": (lambda v: stress.stress_argv(5, v, cpu=1), "/tmp/x"),
}


def variants(valid: str, bad: str) -> list[str]:
    return [bad + valid, valid + bad, valid[:1] + bad + valid[1:], bad]


@pytest.mark.parametrize("field", sorted(BUILDERS))
@pytest.mark.parametrize("bad", NASTY)
def test_every_field_refuses_metacharacters(field: str, bad: str) -> None:
    build, valid = BUILDERS[field]
    assert all(SAFE_ELEMENT.fullmatch(e) for e in build(valid))
    for value in variants(valid, bad):
        with pytest.raises(ValueError):
            build(value)


@pytest.mark.parametrize("field", sorted(BUILDERS))
def test_option_looking_and_empty_values_refused(field: str) -> None:
    build, _ = BUILDERS[field]
    for value in ["", "-j", "--help", "..", "-1", "/proc/../etc", "/proc/./../x"]:
        with pytest.raises(ValueError):
            build(value)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(BUILDERS)), value=st.text(max_size=24))
def test_property_accepted_inputs_give_only_safe_elements(field: str, value: str) -> None:
    build, _ = BUILDERS[field]
    try:
        argv = build(value)
    except ValueError:
        return
    assert all(SAFE_ELEMENT.fullmatch(e) for e in argv), argv


@settings(max_examples=300, deadline=None)
@given(value=st.from_regex(r"[0-9]{1,6}(\.[0-9]{1,3})?(ms|s|m)[;|&$`\n ]?", fullmatch=True))
def test_property_near_valid_latencies(value: str) -> None:
    try:
        argv = tc.replace_argv(7, "eth0", tc.netem(value))
    except ValueError:
        return
    assert value[-1].isalpha()  # anything with a trailing metacharacter was refused
    assert re.fullmatch(r"[0-9]{1,8}(us|ms)", argv[argv.index("delay") + 1])


def test_netem_argv_exact() -> None:
    assert tc.replace_argv(1234, "eth0", tc.netem("100ms")) == [
        "nsenter", "--net=/proc/1234/ns/net", "tc", "qdisc", "replace", "dev", "eth0",
        "root", "handle", "c4a0:", "netem", "delay", "100ms", "limit", "10000",
    ]
    argv = tc.replace_argv(9, "net1", tc.netem("1.5ms", "0.25ms", "12.5%"), "/host/proc")
    assert argv[1] == "--net=/host/proc/9/ns/net"
    assert argv[-7:] == ["netem", "delay", "1500us", "250us", "12.5%", "limit", "10000"]


def test_tbf_argv_exact() -> None:
    assert tc.replace_argv(5, "eth0", tc.tbf("2mbit"))[-7:] == [
        "tbf", "rate", "2mbit", "burst", "16384", "limit", "32768",
    ]
    big = tc.tbf("10gbit")
    assert (big.burst_bytes, big.limit_bytes) == (12_500_000, 125_000_000)  # 10 ms / 100 ms of traffic


def test_tbf_explicit_burst_and_limit() -> None:
    assert tc.tbf("2mbit", 32768).args() == ["tbf", "rate", "2mbit", "burst", "32768", "limit", "65536"]
    assert tc.tbf("2mbit", None, 20000).args()[-4:] == ["burst", "16384", "limit", "20000"]
    for bad in [16383, 0, -1, 1 << 31, True]:
        with pytest.raises(ValueError):
            tc.tbf("2mbit", bad)
        with pytest.raises(ValueError):
            tc.tbf("2mbit", None, bad)


def test_other_argvs_exact() -> None:
    assert tc.delete_argv(5, "eth0") == [
        "nsenter", "--net=/proc/5/ns/net", "tc", "qdisc", "del", "dev", "eth0", "root", "handle", "c4a0:",
    ]
    assert tc.show_argv(5, "eth0") == ["nsenter", "--net=/proc/5/ns/net", "tc", "-j", "qdisc", "show", "dev", "eth0"]
    assert tc.default_route_argv(5) == ["nsenter", "--net=/proc/5/ns/net", "ip", "-4", "-j", "route", "show", "default"]
    assert tc.default_route_argv(5, family=6)[3] == "-6"
    with pytest.raises(ValueError):
        tc.default_route_argv(5, family=5)


@pytest.mark.parametrize(("text", "expected"), [
    ("100ms", "100ms"), ("1.5ms", "1500us"), ("2s", "2000ms"), ("0.001ms", "1us"), ("1m", "60000ms"),
    ("1s500ms", "1500ms"),
])
def test_durations_convert_to_tc_times(text: str, expected: str) -> None:
    assert tc.netem(text).args()[2] == expected


@pytest.mark.parametrize("text", ["0ms", "61s", "2m", "1h", "100", "100 ms", "100MS", "-1ms", "1e3ms", "100us"])
def test_latency_out_of_grammar_or_range(text: str) -> None:
    with pytest.raises(ValueError):
        tc.netem(text)


def test_correlation_rules() -> None:
    assert tc.netem("10ms", "1ms", "25").correlation == "25%"
    assert tc.netem("10ms", "1ms", "0").correlation == "0%"
    for bad in ["101", "-1", "1e2", "50.123", "abc"]:
        with pytest.raises(ValueError):
            tc.netem("10ms", "1ms", bad)
    with pytest.raises(ValueError, match="needs a jitter"):
        tc.netem("10ms", None, "25")


@pytest.mark.parametrize(("rate", "bps"), [("8kbit", 8_000), ("2mbit", 2_000_000), ("100gbit", 100_000_000_000)])
def test_rates(rate: str, bps: int) -> None:
    assert tc.rate_bps(rate) == bps


@pytest.mark.parametrize("rate", ["7kbit", "101gbit", "2Mbit", "2mbps", "02mbit", "2 mbit", "2", "mbit", "1.5mbit"])
def test_rates_refused(rate: str) -> None:
    with pytest.raises(ValueError):
        tc.tbf(rate)


@pytest.mark.parametrize("value", [0, -1, 4194305, True, "12"])
def test_pid_range(value: object) -> None:
    with pytest.raises(ValueError):
        tc.in_netns(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["eth0", "net1", "veth1a2b3c4d", "a", "eth0.100", "br_x-1", "abcdefghijklmno"])
def test_interfaces_accepted(name: str) -> None:
    assert tc.interface(name) == name


@pytest.mark.parametrize("name", ["", "abcdefghijklmnop", "-eth0", ".", "..", "eth0:1", "eth0@if3", "ETH/0"])
def test_interfaces_refused(name: str) -> None:
    with pytest.raises(ValueError):
        tc.interface(name)


# Captured on this machine with `tc [-j] qdisc show dev X` (see tests/agent/data).
QDISC_CASES = [
    ("noqueue", tc.RootKind.DEFAULT, "noqueue", "0:"),
    ("noqueue-ingress", tc.RootKind.DEFAULT, "noqueue", "0:"),  # ingress is not a root qdisc
    ("pfifo-fast-default", tc.RootKind.DEFAULT, "pfifo_fast", "0:"),
    ("mq-default", tc.RootKind.DEFAULT, "mq", "0:"),
    ("mq-foreign", tc.RootKind.FOREIGN, "mq", "8001:"),
    ("tbf-ours", tc.RootKind.OURS, "tbf", "c4a0:"),
    ("tbf-foreign", tc.RootKind.FOREIGN, "tbf", "1:"),
    ("htb-foreign", tc.RootKind.FOREIGN, "htb", "1:"),
]


@pytest.mark.parametrize("suffix", ["txt", "json"])
@pytest.mark.parametrize(("name", "state", "kind", "handle"), QDISC_CASES)
def test_parse_captured_qdisc_show(name: str, state: tc.RootKind, kind: str, handle: str, suffix: str) -> None:
    root = tc.parse_qdisc_show((DATA / f"qdisc-{name}.{suffix}").read_text())
    assert (root.state, root.kind, root.handle) == (state, kind, handle)


def test_parse_qdisc_show_edge_cases() -> None:
    assert tc.parse_qdisc_show("").state is tc.RootKind.DEFAULT
    assert tc.parse_qdisc_show("[]").state is tc.RootKind.DEFAULT
    assert tc.parse_qdisc_show("qdisc tbf c4a0 root refcnt 2").state is tc.RootKind.OURS
    assert tc.parse_qdisc_show("qdisc weird zz: root").state is tc.RootKind.FOREIGN  # unreadable: not ours
    # `tc qdisc show` without `dev` names the device; a non-root ours (under someone's class) is not root.
    text = "qdisc htb 1: dev eth0 root refcnt 2\nqdisc tbf c4a0: dev eth0 parent 1:10"
    assert tc.parse_qdisc_show(text).state is tc.RootKind.FOREIGN


def test_parse_default_route() -> None:
    # Captured: `ip -j route show default` in a test namespace.
    assert tc.parse_default_route('[{"dst":"default","gateway":"10.231.0.2","dev":"co-pa","flags":[]}]') == "co-pa"
    assert tc.parse_default_route("default via 10.0.0.1 dev eth0 proto dhcp metric 100\n") == "eth0"
    assert tc.parse_default_route("") is None
    assert tc.parse_default_route("[]") is None
    with pytest.raises(ValueError):
        tc.parse_default_route('[{"dst":"default","dev":"eth0;reboot"}]')
