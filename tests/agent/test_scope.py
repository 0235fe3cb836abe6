"""The agent's scope and ownership builders (pure): CIDRs, ports, directions, the scoped layout as tc -batch lines,
the ingress redirect, the owner marker, and the netem/blackhole qdiscs of the new modes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos_operator.agent import cli, modes, scope, tc

UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
OWNER = "7b1c2d3e-4f50-4a6b-9c8d-0e1f2a3b4c5d"


def test_new_netem_qdiscs_and_blackhole() -> None:
    assert tc.loss("12.5", "25").args() == ["netem", "loss", "12.5%", "25%", "limit", "10000"]
    assert tc.loss("100").args() == ["netem", "loss", "100%", "limit", "10000"]
    assert tc.corrupt("0.01").args() == ["netem", "corrupt", "0.01%", "limit", "10000"]
    assert tc.duplicate("50").args() == ["netem", "duplicate", "50%", "limit", "10000"]
    assert tc.Blackhole().args() == ["blackhole"]
    for bad in ["0", "101", "-1", "1e2", "5;", "", "50.123"]:
        with pytest.raises(ValueError):
            tc.loss(bad)


@pytest.mark.parametrize(("text", "cidr"), [("10.0.0.0/8", "10.0.0.0/8"), ("192.0.2.7", "192.0.2.7/32"),
                                            ("fd00::/64", "fd00::/64"), ("::1", "::1/128")])
def test_cidrs(text: str, cidr: str) -> None:
    assert scope.cidr(text) == cidr


@pytest.mark.parametrize("text", ["10.0.0.1/8", "10.0.0.0/33", "300.1.1.1", "10.0.0.0/8;x", "-1", "", "a b",
                                  "10.0.0.0/", "1.2.3.4/08x"])
def test_cidrs_refused(text: str) -> None:
    with pytest.raises(ValueError):
        scope.cidr(text)


def test_scope_rules() -> None:
    s = scope.scope(["10.0.0.0/8", "10.0.0.0/8"], [80, 80, 443], None)
    assert s == scope.Scope(("10.0.0.0/8",), (80, 443), "egress") and s.scoped and s.egress and not s.ingress
    assert not scope.scope(None, None, "ingress").scoped
    bad: list[list[int]] = [[0], [65536], [True]]  # True: a bool is not a port number
    for bad_ports in bad:
        with pytest.raises(ValueError):
            scope.scope(None, bad_ports, None)
    with pytest.raises(ValueError):
        scope.scope(None, None, "sideways")
    with pytest.raises(ValueError):
        scope.scope([f"10.0.{i // 256}.{i % 256}" for i in range(257)], None, None)


def test_layout_batch_egress_and_ingress() -> None:
    s = scope.scope(["10.0.0.0/8", "fd00::/64"], [5432], "both")
    lines = scope.layout_batch("eth0", tc.loss("5"), s, incoming=False)
    assert lines[0] == ["qdisc", "add", "dev", "eth0", "root", "handle", "c4a0:", "htb", "default", "1"]
    assert lines[3] == ["qdisc", "add", "dev", "eth0", "parent", "c4a0:2", "handle", "c4a1:", "netem", "loss", "5%",
                        "limit", "10000"]
    head = ["filter", "add", "dev", "eth0", "parent", "c4a0:", "protocol"]
    assert lines[4] == [*head, "ip", "prio", "1", "u32", "match", "ip", "dst", "10.0.0.0/8", "match", "ip", "dport",
                        "5432", "0xffff", "flowid", "c4a0:2"]
    assert lines[5] == [*head, "ipv6", "prio", "2", "u32", "match", "ip6", "dst", "fd00::/64", "match", "ip6",
                        "dport", "5432", "0xffff", "flowid", "c4a0:2"]
    incoming = scope.layout_batch(scope.IFB, tc.Blackhole(), s, incoming=True)
    assert incoming[4][11:20] == ["match", "ip", "src", "10.0.0.0/8", "match", "ip", "sport", "5432", "0xffff"]
    ports_only = scope.layout_batch("eth0", tc.Blackhole(), scope.scope(None, [53], None), incoming=False)
    assert [line[7] for line in ports_only[4:]] == ["ip", "ipv6"]  # both families when no destination narrows it
    text = scope.batch_text(lines)
    assert text.count("\n") == len(lines) and "5%" in text


def test_batch_words_are_checked() -> None:
    with pytest.raises(ValueError):
        scope.batch_text([["qdisc", "add", "dev", "eth0; reboot"]])


def test_ingress_redirect_and_marker() -> None:
    assert scope.ingress_batch("eth0")[1][-4:] == ["egress", "redirect", "dev", "c4a0ifb"]
    assert scope.alias_argv(5, "eth0", f"chaos-operator:{OWNER}")[-2:] == ["alias", f"chaos-operator:{OWNER}"]
    assert scope.alias_argv(5, "eth0", "")[-1] == ""
    with pytest.raises(ValueError):
        scope.alias_argv(5, "eth0", "anything else")
    assert scope.marker_owner(None) is None
    assert scope.marker_owner(f"chaos-operator:{OWNER}") == OWNER
    assert scope.marker_owner("uplink") == "" and scope.marker_owner("chaos-operator:x") == ""
    assert scope.parse_alias('[{"ifname":"eth0","ifalias":"uplink"}]') == "uplink"
    assert scope.parse_alias('[{"ifname":"eth0"}]') is None
    assert scope.has_ingress('[{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1"}]')
    assert not scope.has_ingress('[{"kind":"noqueue","handle":"0:","root":true}]')


@settings(max_examples=200, deadline=None)
@given(dests=st.lists(st.one_of(st.ip_addresses().map(str), st.text(max_size=20)), max_size=4),
       ports=st.lists(st.integers(-5, 70000), max_size=4), direction=st.sampled_from(["egress", "ingress", "both"]))
def test_property_every_accepted_scope_gives_safe_batch_words(dests: list[str], ports: list[int],
                                                              direction: str) -> None:
    try:
        s = scope.scope(dests, ports, direction)
    except ValueError:
        return
    for incoming in (False, True):
        for words in scope.layout_batch("eth0", tc.Blackhole(), s, incoming):
            assert all(re.fullmatch(r"[A-Za-z0-9_.:/%-]+", w) for w in words), words


@pytest.mark.parametrize(("argv", "plan"), [
    (["partition", "--pod-uid", UID, "--duration", "10", "--destination", "10.0.0.0/8", "--direction", "both",
      "--owner", OWNER],
     modes.Shape(UID, "/proc", None, OWNER, tc.Blackhole(), 10.0, scope.Scope(("10.0.0.0/8",), (), "both"))),
    (["loss", "--pod-uid", UID, "--duration", "10", "--percent", "5", "--port", "80"],
     modes.Shape(UID, "/proc", None, None, tc.loss("5"), 10.0, scope.Scope((), (80,), "egress"))),
    (["corrupt", "--revert-only", "--pod-uid", UID, "--owner", OWNER], modes.Revert(UID, "/proc", None, OWNER)),
])
def test_plans(argv: list[str], plan: modes.Plan) -> None:
    assert modes.plan(cli.build_parser().parse_args(argv)) == plan
