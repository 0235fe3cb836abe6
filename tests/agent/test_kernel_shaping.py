"""The agent against real network namespaces, veth, nsenter and tc.

A `sleep` in namespace A, in a cgroup named with a pod UID, stands in for the target container.
The agent runs as a real subprocess, finds it by UID and shapes the device of A's default route.
Figures are printed (`pytest -s`).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import secrets
import signal
import time

import pytest

from tests.agent.conftest import FakePod
from tests.agent.kernel import Cgroup, NetPair, Procs, applied, default_root, figure, finish, qdisc_setup, stop
from tests.support.waits import wait_for

RATE_BPS = 2_000_000


def test_bandwidth_shapes_traffic_and_sigterm_reverts(
    netpair: NetPair, fake_pod: FakePod, procs: Procs, tmp_path: pathlib.Path
) -> None:
    unshaped = netpair.throughput(procs, seconds=1.0, max_bytes=600_000_000, port=5201)
    log = tmp_path / "termination-log"
    agent = procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "2mbit", "--duration", "60",
                        "--termination-log", str(log))
    wait_for("the condition", lambda: applied(netpair), 15, every=0.01)
    assert "tbf c4a0: root" in netpair.qdisc() and "rate 2Mbit" in netpair.qdisc()
    shaped = netpair.throughput(procs, seconds=2.5, max_bytes=50_000_000, port=5202)

    sent = stop(agent, signal.SIGTERM)
    wait_for("the condition", lambda: not applied(netpair), 5, every=0.005)
    qdisc_gone = time.monotonic() - sent
    code, report, err = finish(agent, 10)
    exited = time.monotonic() - sent
    after = netpair.throughput(procs, seconds=0.5, max_bytes=300_000_000, port=5203)

    figure(f"unshaped {unshaped / 1e6:.1f} Mbit/s; shaped at 2mbit {shaped / 1e6:.3f} Mbit/s "
           f"({(shaped - RATE_BPS) / RATE_BPS:+.1%}); after revert {after / 1e6:.1f} Mbit/s")
    figure(f"SIGTERM -> qdisc removed in {qdisc_gone * 1000:.0f} ms, agent exited in {exited * 1000:.0f} ms")
    assert unshaped > 25 * RATE_BPS
    assert abs(shaped - RATE_BPS) <= 0.25 * RATE_BPS
    assert after > 10 * RATE_BPS
    assert qdisc_gone < 2.0 and exited < 2.0
    assert code == 0, err
    assert default_root(netpair)
    assert report["fault"] == "bandwidth" and report["state"] == "reverted" and report["error"] is None
    assert report["pid"] == fake_pod.pid and report["device"] == netpair.dev_a
    assert report["ended_by"] == "SIGTERM" and report["revert"] == "reverted"
    assert report["applied_at"] and report["reverted_at"]
    assert json.loads(log.read_text()) == report


def test_deadline_reverts_on_its_own(netpair: NetPair, fake_pod: FakePod, procs: Procs) -> None:
    spawned = time.monotonic()
    agent = procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "4mbit", "--duration", "1")
    wait_for("the condition", lambda: applied(netpair), 10, every=0.01)
    wait_for("the condition", lambda: not applied(netpair), 10, every=0.005)
    gone = time.monotonic() - spawned
    code, report, err = finish(agent, 10)
    figure(f"--duration 1: qdisc removed {gone:.2f} s after the agent was spawned (startup included)")
    assert code == 0, err
    assert report["state"] == "reverted" and report["ended_by"] == "deadline"
    assert gone < 1 + 2.0
    assert default_root(netpair)


@pytest.mark.parametrize("foreign", [
    ["htb", "default", "10"],
    ["tbf", "rate", "5mbit", "burst", "32kbit", "latency", "50ms"],
])
def test_foreign_root_qdisc_is_left_untouched(
    netpair: NetPair, fake_pod: FakePod, procs: Procs, foreign: list[str]
) -> None:
    netpair.tc("qdisc", "add", "dev", netpair.dev_a, "root", "handle", "1:", *foreign)
    before = qdisc_setup(netpair)
    assert before[0]["handle"] == "1:" and before[0]["kind"] == foreign[0]
    code, report, _ = finish(procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "2mbit",
                                         "--duration", "30"), 15)
    assert code == 4
    assert report["state"] == "refused" and report["reason"] == "ForeignQdisc"
    assert f"{foreign[0]} 1:" in report["error"]
    assert qdisc_setup(netpair) == before
    # Revert-only must not delete someone else's qdisc either.
    code, report, _ = finish(procs.agent("bandwidth", "--revert-only", "--pod-uid", fake_pod.uid), 15)
    assert code == 0 and report["state"] == "absent"
    assert qdisc_setup(netpair) == before


def test_rerun_is_idempotent_and_revert_only_cleans_orphans(netpair: NetPair, fake_pod: FakePod, procs: Procs) -> None:
    # An agent killed without a chance to revert leaves our qdisc behind ...
    first = procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "2mbit", "--duration", "60")
    wait_for("the condition", lambda: applied(netpair), 10, every=0.01)
    first.kill()
    first.communicate(timeout=10)
    assert "rate 2Mbit" in netpair.qdisc()
    # ... a re-run replaces it in place (no error) and reverts at its deadline.
    second = procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "4mbit", "--duration", "1.5")
    wait_for("the condition", lambda: "rate 4Mbit" in netpair.qdisc(), 10, every=0.01)
    code, report, err = finish(second, 10)
    assert code == 0, err
    assert report["state"] == "reverted" and default_root(netpair)

    third = procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "2mbit", "--duration", "60")
    wait_for("the condition", lambda: applied(netpair), 10, every=0.01)
    third.kill()
    third.communicate(timeout=10)
    code, report, err = finish(procs.agent("bandwidth", "--revert-only", "--pod-uid", fake_pod.uid), 15)
    assert code == 0, err
    assert report["state"] == "reverted" and report["device"] == netpair.dev_a
    assert default_root(netpair)
    code, report, _ = finish(procs.agent("netem", "--revert-only", "--pod-uid", fake_pod.uid), 15)
    assert code == 0 and report["state"] == "absent"


def test_revert_survives_the_target_process_dying(netpair: NetPair, fake_pod: FakePod, procs: Procs) -> None:
    # A second "container" of the same pod: same namespace, same pod cgroup.
    sidecar = procs.start(["nsenter", f"--net=/run/netns/{netpair.ns_a}", "sleep", "300"])
    sidecar_cgroup = Cgroup(fake_pod.cgroup.path.parent, [secrets.token_hex(32)]).create()
    try:
        sidecar_cgroup.add(sidecar.pid)
        agent = procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "2mbit", "--duration", "60")
        assert agent.stderr is not None
        line = agent.stderr.readline()  # "chaos-agent: applied ... (pid N, net:[...])"
        chosen = int(re.search(r"\(pid ([0-9]+),", line).group(1))  # type: ignore[union-attr]
        assert chosen in {fake_pod.pid, sidecar.pid} and applied(netpair)
        os.kill(chosen, signal.SIGKILL)  # the process the agent entered is gone; the namespace is not
        wait_for("the condition", lambda: not os.path.exists(f"/proc/{chosen}/ns/net"), 5, every=0.01)
        stop(agent, signal.SIGTERM)
        code, report, err = finish(agent, 10)
        assert code == 0, err
        assert report["state"] == "reverted" and report["revert"] == "reverted"
        assert default_root(netpair)
    finally:
        sidecar.kill()
        sidecar.wait(timeout=10)
        sidecar_cgroup.remove()


def test_unknown_pod_uid_touches_nothing(netpair: NetPair, fake_pod: FakePod, procs: Procs) -> None:
    other = fake_pod.uid[:-1] + ("0" if fake_pod.uid[-1] != "0" else "1")
    code, report, _ = finish(procs.agent("bandwidth", "--pod-uid", other, "--rate", "2mbit", "--duration", "5"), 15)
    assert code == 3 and report["reason"] == "TargetNotFound"
    assert default_root(netpair)
