"""Scoped network faults and the owner marker, on this host's kernel (htb, u32, blackhole, ingress, ifb, mirred):
a fault applies to the scoped peer/port/direction only while other traffic flows, measured at once; one experiment
never replaces or removes another's fault; every piece of ours (root htb, ingress redirect, ifb, marker) goes."""

from __future__ import annotations

import signal
import time

import pytest

from tests.agent.conftest import FakePod
from tests.agent.kernel import NetPair, Procs, applied, default_root, figure, finish, qdisc_setup, run, stop
from tests.support.waits import wait_for

OWNER_A = "7b1c2d3e-4f50-4a6b-9c8d-0e1f2a3b4c5d"
OWNER_B = "0f0e0d0c-0b0a-4909-8807-060504030201"
IFB = "c4a0ifb"
RATE_BPS = 2_000_000


def nothing_of_ours(pair: NetPair) -> bool:
    return default_root(pair) and not pair.has_link(IFB) and "ingress" not in pair.qdisc() and pair.alias() is None


@pytest.mark.parametrize("direction", ["egress", "ingress", "both"])
def test_partition_drops_the_scoped_peer_while_the_other_flows(
        netpair: NetPair, fake_pod: FakePod, procs: Procs, direction: str) -> None:
    other = netpair.add_peer_address()
    assert netpair.can_connect(procs, netpair.ip_b, 5501) and netpair.can_connect(procs, other, 5502)
    agent = procs.agent("partition", "--pod-uid", fake_pod.uid, "--destination", f"{netpair.ip_b}/32",
                        "--direction", direction, "--owner", OWNER_A, "--duration", "60")
    wait_for("the condition", lambda: applied(netpair) or netpair.has_link(IFB), 15, every=0.01)
    wait_for("the condition", lambda: netpair.alias() == f"chaos-operator:{OWNER_A}", 5, every=0.01)
    if direction != "egress":
        wait_for("the condition", lambda: "ingress ffff:" in netpair.qdisc(), 5, every=0.01)
    # A connection needs both ways: dropping either the SYN (egress) or the SYN-ACK (ingress) cuts it.
    assert not netpair.can_connect(procs, netpair.ip_b, 5503)
    assert netpair.can_connect(procs, other, 5504)
    sent = stop(agent, signal.SIGTERM)
    code, report, err = finish(agent, 10)
    exited = time.monotonic() - sent
    assert code == 0 and report["state"] == "reverted", err
    assert report["scope"] == {"destinations": [f"{netpair.ip_b}/32"], "ports": [], "direction": direction}
    assert nothing_of_ours(netpair)
    assert netpair.can_connect(procs, netpair.ip_b, 5505)
    figure(f"partition {direction}: scoped peer cut while the other peer connects; SIGTERM -> reverted and exited "
           f"in {exited * 1000:.0f} ms")
    assert exited < 2.0


def test_scoped_bandwidth_limits_only_the_scoped_peer_and_port_at_once(
        netpair: NetPair, fake_pod: FakePod, procs: Procs) -> None:
    other = netpair.add_peer_address()
    agent = procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "2mbit", "--destination",
                        f"{netpair.ip_b}/32", "--port", "5602", "--owner", OWNER_A, "--duration", "60")
    wait_for("the condition", lambda: applied(netpair), 15, every=0.01)
    assert "htb c4a0: root" in netpair.qdisc() and "tbf c4a1: parent c4a0:2" in netpair.qdisc()
    scoped, other_port, other_peer = netpair.throughputs(
        procs, 2.5, 200_000_000, [(netpair.ip_b, 5602), (netpair.ip_b, 5603), (other, 5604)])
    stop(agent, signal.SIGTERM)
    code, report, err = finish(agent, 10)
    figure(f"scoped 2mbit: to {netpair.ip_b}:5602 {scoped / 1e6:.3f} Mbit/s; at the same time "
           f"{netpair.ip_b}:5603 {other_port / 1e6:.1f} Mbit/s and {other}:5604 {other_peer / 1e6:.1f} Mbit/s")
    assert abs(scoped - RATE_BPS) <= 0.25 * RATE_BPS
    assert other_port > 10 * RATE_BPS and other_peer > 10 * RATE_BPS
    assert code == 0 and report["state"] == "reverted", err
    assert nothing_of_ours(netpair)


def test_a_second_experiment_is_refused_and_never_removes_the_first(
        netpair: NetPair, fake_pod: FakePod, procs: Procs) -> None:
    first = procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "2mbit", "--owner", OWNER_A,
                        "--duration", "60")
    wait_for("the condition", lambda: applied(netpair) and netpair.alias() is not None, 15, every=0.01)
    before = qdisc_setup(netpair)
    for argv in (["bandwidth", "--rate", "4mbit", "--duration", "30"],
                 ["partition", "--destination", f"{netpair.ip_b}/32", "--direction", "both", "--duration", "30"]):
        code, report, _ = finish(procs.agent(*argv, "--pod-uid", fake_pod.uid, "--owner", OWNER_B), 15)
        assert code == 4 and report["state"] == "refused" and report["reason"] == "OtherExperiment", report
        assert OWNER_A in report["error"]
        assert qdisc_setup(netpair) == before and not netpair.has_link(IFB)
    # The second experiment's revert-only (its recovery) leaves the first's fault alone.
    code, report, _ = finish(procs.agent("bandwidth", "--revert-only", "--pod-uid", fake_pod.uid, "--owner",
                                         OWNER_B), 15)
    assert code == 0 and report["state"] == "absent"
    assert qdisc_setup(netpair) == before and netpair.alias() == f"chaos-operator:{OWNER_A}"
    stop(first, signal.SIGTERM)
    code, report, err = finish(first, 10)
    assert code == 0 and report["state"] == "reverted", err
    assert nothing_of_ours(netpair)


def test_a_foreign_alias_or_ingress_qdisc_is_refused_and_left_untouched(
        netpair: NetPair, fake_pod: FakePod, procs: Procs) -> None:
    netpair.tc("qdisc", "add", "dev", netpair.dev_a, "handle", "ffff:", "ingress")
    code, report, _ = finish(procs.agent("partition", "--pod-uid", fake_pod.uid, "--destination", "10.9.0.0/16",
                                         "--direction", "ingress", "--duration", "30"), 15)
    assert code == 4 and report["reason"] == "ForeignQdisc" and "ingress" in report["error"]
    assert "ingress ffff:" in netpair.qdisc() and not netpair.has_link(IFB)
    netpair.tc("qdisc", "del", "dev", netpair.dev_a, "ingress")
    run(netpair.in_ns(netpair.ns_a, ["ip", "link", "set", "dev", netpair.dev_a, "alias", "uplink-to-b"]))
    code, report, _ = finish(procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "2mbit", "--owner",
                                         OWNER_A, "--duration", "30"), 15)
    assert code == 4 and report["reason"] == "DeviceAliasInUse"
    assert netpair.alias() == "uplink-to-b" and default_root(netpair)


def test_revert_only_removes_every_piece_a_killed_agent_left(netpair: NetPair, fake_pod: FakePod,
                                                             procs: Procs) -> None:
    agent = procs.agent("partition", "--pod-uid", fake_pod.uid, "--destination", f"{netpair.ip_b}/32",
                        "--port", "80", "--direction", "both", "--owner", OWNER_A, "--duration", "60")
    wait_for("every piece applied", lambda: applied(netpair) and netpair.has_link(IFB) and "ingress" in netpair.qdisc(),
             15, every=0.01)
    agent.kill()  # no revert: the htb, the ingress redirect, the ifb and the marker stay
    agent.communicate(timeout=10)
    assert applied(netpair) and netpair.has_link(IFB) and netpair.alias() is not None
    code, report, err = finish(procs.agent("partition", "--revert-only", "--pod-uid", fake_pod.uid, "--owner",
                                           OWNER_A), 15)
    assert code == 0 and report["state"] == "reverted", err
    assert nothing_of_ours(netpair)
    # And a re-run of the same experiment after such a kill replaces its own leftovers instead of refusing.
    agent = procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "2mbit", "--owner", OWNER_A,
                        "--duration", "1")
    code, report, err = finish(agent, 15)
    assert code == 0 and report["state"] == "reverted" and report["ended_by"] == "deadline", err
    assert nothing_of_ours(netpair)
