"""The agent's netem mode against a real kernel: needs `sch_netem`, so these run in the VM tier
(`make kernel-test`, marker `kernel_vm`) and skip, by a real probe, on a host kernel without it.

A `sleep` in namespace A, in a cgroup named with a fresh pod UID, stands in for the target container. The
agent runs as a real subprocess: it finds that process by the UID, enters its network namespace, resolves the
device of its default route and puts netem on it. A one-byte TCP ping-pong from A to B measures the delay:
netem on A's egress delays each "ping", so the median RTT grows by the configured latency. The delay is 100 ms:
under software emulation on a busy machine the guest's timers fire a few ms late (its vCPU waits for a host
core), which 10 % of 100 ms absorbs and 10 % of 50 ms did not always (measured +3.2 to +5.5 ms at 50 ms).
"""

from __future__ import annotations

import datetime
import json
import pathlib
import re
import signal
import statistics
import time

import pytest

from tests.agent.conftest import FakePod
from tests.agent.kernel import NetPair, Procs, finish, stop
from tests.support.waits import wait_for

pytestmark = pytest.mark.kernel_vm
OURS = "c4a0:"
# A bound, not a measurement: under software emulation (the VM tier) Python needs seconds to start the agent.
STARTUP_S = 90.0
SAMPLES = 60
# The revert runs at most this many commands (each `nsenter` + `ip`/`tc`) before our qdisc is gone. The 2 s
# bound is for a real node; under software emulation on a busy machine one command can take most of a second,
# so the bound here adds what those commands measurably cost on this machine (command_cost).
REVERT_COMMANDS = 4


def figure(text: str) -> None:
    print(f"\n[netem figures] {text}", flush=True)


def applied(pair: NetPair) -> bool:
    return OURS in pair.qdisc()


def default_root(pair: NetPair) -> bool:
    return pair.qdisc().startswith("qdisc noqueue 0: root")


def setup_of(pair: NetPair) -> list[dict[str, object]]:
    """The qdiscs and their configuration, without counters (background packets move them)."""
    items = json.loads(pair.tc("-j", "qdisc", "show", "dev", pair.dev_a).stdout)
    return [{k: v for k, v in item.items() if k in ("kind", "handle", "root", "options")} for item in items]


def command_cost(pair: NetPair) -> float:
    """Seconds one `ip netns exec … tc qdisc show` takes here now: the median of three."""
    costs = []
    for _ in range(3):
        start = time.monotonic()
        pair.qdisc()
        costs.append(time.monotonic() - start)
    return statistics.median(costs)


def stamp(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@pytest.fixture
def netem_available(netpair: NetPair) -> None:
    probe = netpair.tc("qdisc", "add", "dev", netpair.dev_a, "root", "netem", "delay", "1ms", check=False)
    if probe.returncode != 0:
        pytest.skip("kernel has no netem (sch_netem): runs in the VM tier, make kernel-test")
    netpair.tc("qdisc", "del", "dev", netpair.dev_a, "root")


def test_latency_jitter_correlation_add_their_delay_and_sigterm_reverts(
    netpair: NetPair, netem_available: None, fake_pod: FakePod, procs: Procs, tmp_path: pathlib.Path
) -> None:
    base = netpair.rtts_ms(procs, SAMPLES, port=5301)
    log = tmp_path / "termination-log"
    agent = procs.agent("netem", "--pod-uid", fake_pod.uid, "--latency", "100ms", "--jitter", "10ms",
                        "--correlation", "25", "--duration", "300", "--termination-log", str(log))
    wait_for("the condition", lambda: applied(netpair), STARTUP_S, every=0.01)
    shown = netpair.qdisc()
    delayed = netpair.rtts_ms(procs, SAMPLES, port=5302)

    command_s = command_cost(netpair)
    sent = stop(agent, signal.SIGTERM)
    wait_for("the condition", lambda: not applied(netpair), 30, every=0.005)
    gone = time.monotonic() - sent
    code, report, err = finish(agent, 30)
    after = netpair.rtts_ms(procs, SAMPLES, port=5303)

    b, d, a = (statistics.median(x) for x in (base, delayed, after))
    spread = quantile(delayed, 0.9) - quantile(delayed, 0.1)
    figure(f"netem delay 100ms 10ms 25% (n={len(base)}/{len(delayed)}/{len(after)} RTTs): median {b:.2f} -> {d:.2f} "
           f"ms (added {d - b:.2f} ms, configured 100), p10-p90 spread {spread:.2f} ms, min {min(delayed):.2f} ms; "
           f"after revert {a:.2f} ms; SIGTERM -> qdisc removed in {gone * 1000:.0f} ms "
           f"(one tc command here: {command_s * 1000:.0f} ms)")
    assert len(base) == len(delayed) == len(after) == SAMPLES
    assert re.search(r"netem c4a0: root .*delay 100ms\s+10ms\s+25%", shown), shown
    assert abs((d - b) - 100.0) <= 10.0  # the configured delay, within 10 %
    # Uniform jitter of +-10 ms: never earlier than 90 ms, and visibly spread (noise only widens it).
    assert min(delayed) >= 90.0 - 0.5 and spread >= 4.0
    assert a - b <= 10.0  # back to the baseline
    assert gone < 2.0 + REVERT_COMMANDS * command_s
    assert code == 0, err
    assert report["fault"] == "netem" and report["state"] == "reverted" and report["error"] is None
    assert report["pid"] == fake_pod.pid and report["device"] == netpair.dev_a  # found by UID, default route
    assert report["ended_by"] == "SIGTERM" and report["revert"] == "reverted"
    assert json.loads(log.read_text()) == report
    assert default_root(netpair)


def test_deadline_reverts_netem_with_no_one_else_involved(
    netpair: NetPair, netem_available: None, fake_pod: FakePod, procs: Procs
) -> None:
    agent = procs.agent("netem", "--pod-uid", fake_pod.uid, "--latency", "20ms", "--duration", "5")
    wait_for("the condition", lambda: applied(netpair), STARTUP_S, every=0.01)
    wait_for("the condition", lambda: not applied(netpair), 10, every=0.005)
    code, report, err = finish(agent, 30)
    held = stamp(report["reverted_at"]) - stamp(report["applied_at"])
    figure(f"--duration 5: netem held {held:.2f} s (the deadline counts from the agent's start)")
    assert code == 0, err
    assert report["state"] == "reverted" and report["ended_by"] == "deadline" and report["revert"] == "reverted"
    assert held <= 5.0 + 2.0
    assert default_root(netpair)


def test_foreign_netem_root_is_left_untouched(
    netpair: NetPair, netem_available: None, fake_pod: FakePod, procs: Procs
) -> None:
    # Someone else's netem, under a handle that is not ours: same kind, still not ours to replace or remove.
    netpair.tc("qdisc", "add", "dev", netpair.dev_a, "root", "handle", "1:", "netem", "delay", "7ms")
    before = setup_of(netpair)
    code, report, _ = finish(procs.agent("netem", "--pod-uid", fake_pod.uid, "--latency", "50ms",
                                         "--duration", "30"), STARTUP_S)
    assert code == 4
    assert report["state"] == "refused" and report["reason"] == "ForeignQdisc"
    assert "netem 1:" in report["error"]
    assert setup_of(netpair) == before
    code, report, _ = finish(procs.agent("netem", "--revert-only", "--pod-uid", fake_pod.uid), STARTUP_S)
    assert code == 0 and report["state"] == "absent"
    assert setup_of(netpair) == before


def test_reapply_is_idempotent_and_revert_only_cleans_up(
    netpair: NetPair, netem_available: None, fake_pod: FakePod, procs: Procs
) -> None:
    # An agent killed without a chance to revert leaves its netem behind ...
    first = procs.agent("netem", "--pod-uid", fake_pod.uid, "--latency", "80ms", "--duration", "300")
    wait_for("the condition", lambda: applied(netpair), STARTUP_S, every=0.01)
    first.kill()
    first.communicate(timeout=30)
    assert "delay 80ms" in netpair.qdisc()
    # ... a re-run replaces it in place: one root qdisc, ours, with the new delay, and no error.
    second = procs.agent("netem", "--pod-uid", fake_pod.uid, "--latency", "30ms", "--duration", "300")
    wait_for("the condition", lambda: "delay 30ms" in netpair.qdisc(), STARTUP_S, every=0.01)
    (root,) = [q for q in setup_of(netpair) if q.get("root")]
    assert root["kind"] == "netem" and root["handle"] == OURS
    second.kill()
    second.communicate(timeout=30)
    code, report, err = finish(procs.agent("netem", "--revert-only", "--pod-uid", fake_pod.uid), STARTUP_S)
    assert code == 0, err
    assert report["state"] == "reverted" and report["revert"] == "reverted" and report["device"] == netpair.dev_a
    assert default_root(netpair)
    code, report, _ = finish(procs.agent("netem", "--revert-only", "--pod-uid", fake_pod.uid), STARTUP_S)
    assert code == 0 and report["state"] == "absent"
    assert default_root(netpair)
