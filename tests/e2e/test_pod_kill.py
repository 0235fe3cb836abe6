"""PodKill end to end: the real operator, the sandbox's real processes behind the pods, load through the proxy."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from chaos_sandbox.cluster import Sandbox

from chaos_operator.models.duration import parse_duration
from tests.support.waits import status_of, wait_for, wait_phase
from tests.support.workloads import deployment, pretty

pytestmark = pytest.mark.usefixtures("operator")  # the real operator runs during each test
APP_ARGS = ["--latency-ms", "10", "--jitter-ms", "10"]
SPEC: dict[str, Any] = {
    "target": {"selector": {"matchLabels": {"app": "checkout"}}, "mode": "fixed", "value": 1},
    "fault": {"kind": "PodKill", "gracePeriodSeconds": 0},
    "load": {"service": {"name": "checkout", "port": 8080}, "path": "/", "rate": 50, "concurrency": 16,
             "timeout": "1s"},
    "phases": {"baseline": "3s", "chaos": "5s", "recovery": "3s"},
    "slos": {"maxErrorRate": 0.05, "maxLatencyP95": "500ms", "recoveryWithin": "4s"},
}


def start(box: Sandbox, ns: str, replicas: int, args: tuple[str, ...] = (), **spec: Any) -> None:
    box.apply(deployment(ns, "checkout", replicas, args=[*APP_ARGS, *args]))
    box.wait_ready(ns, "checkout", replicas)
    body = copy.deepcopy(SPEC)
    body.update(spec)
    box.apply([{"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
                    "metadata": {"name": "kill", "namespace": ns}, "spec": body}])


def test_killing_one_of_three_replicas_costs_errors_only_in_the_chaos_window(box: Sandbox) -> None:
    ns = "e2e-one"
    start(box, ns, 3)
    before = {p["metadata"]["uid"] for p in box.pods(ns, "checkout")}
    st = wait_phase(box.emu, "kill", ns=ns)
    assert (st["phase"], st["verdict"], st["reason"]) == ("Completed", "Passed", "SLOsHeld"), pretty(st)
    phases = st["phases"]
    for name, seconds in (("baseline", 3), ("chaos", 5), ("recovery", 3)):
        # Chaos figures start once the kill held; what was sent before is the ramp (a few on a busy machine).
        ramp = (phases[name].get("ramp") or {}).get("requests", 0)
        assert phases[name]["requests"] + ramp == pytest.approx(50 * seconds, abs=2), (name, pretty(phases))
    assert phases["baseline"]["errors"] == 0 and phases["recovery"]["errors"] == 0, pretty(phases)
    assert phases["chaos"]["errors"] <= 10  # at most what was in flight to the killed pod
    # The replacement needs the 0.5 s start delay plus its process start before it is Ready.
    assert 0.5 <= parse_duration(st["recoveryTime"]) < 4
    killed = st["injections"][0]["uid"]
    after = box.wait_ready(ns, "checkout", 3)
    assert killed in before and killed not in {p["metadata"]["uid"] for p in after}
    assert all(c["passed"] for c in st["checks"]) and {"maxErrorRate", "recoveryWithin"} <= {
        c["name"] for c in st["checks"]}


def test_killing_the_only_replica_fails_on_max_error_rate(box: Sandbox) -> None:
    ns = "e2e-solo"
    start(box, ns, 1, target={"selector": {"matchLabels": {"app": "checkout"}}, "mode": "one"},
          slos={"maxErrorRate": 0.01, "maxLatencyP95": "500ms"})
    st = wait_phase(box.emu, "kill", ns=ns)
    assert (st["phase"], st["verdict"], st["reason"]) == ("Completed", "Failed", "SLOsViolated"), pretty(st)
    chaos = st["phases"]["chaos"]
    # Real connection failures: nothing answers between the kill and the replacement's readiness.
    assert chaos["errors"] >= 20 and chaos["errorClasses"]["connection"] > 0, pretty(chaos)
    assert st["phases"]["baseline"]["errors"] == 0
    failed = [c for c in st["checks"] if not c["passed"]]
    assert [(c["name"], c["phase"]) for c in failed] == [("maxErrorRate", "chaos")], pretty(st["checks"])
    assert float(failed[0]["observed"]) > 0.01
    box.wait_ready(ns, "checkout", 1)


def test_abort_mid_chaos_leaves_the_workload_whole(box: Sandbox) -> None:
    ns = "e2e-abort"
    start(box, ns, 3, fault={"kind": "PodKill", "gracePeriodSeconds": 0, "interval": "1s"},
          phases={"baseline": "2s", "chaos": "60s", "recovery": "2s"})
    wait_for("two kills", lambda: len(status_of(box.emu, "kill", ns).get("injections", [])) >= 2, 20)
    started = time.monotonic()
    box.emu.patch("chaosexperiments", ns, "kill", {"spec": {"abort": True}})
    st = wait_phase(box.emu, "kill", timeout=20, ns=ns)
    assert (st["phase"], st["reason"]) == ("Aborted", "Aborted"), pretty(st)
    assert time.monotonic() - started < 15
    assert all(r["state"] == "Recovered" for r in st["injections"])
    killed = {r["uid"] for r in st["injections"]}
    pods = box.wait_ready(ns, "checkout", 3, timeout=10)
    assert not killed & {p["metadata"]["uid"] for p in pods}
    time.sleep(1.5)  # no further kill after the abort
    assert len(status_of(box.emu, "kill", ns)["injections"]) == len(killed)
    assert len(box.pods(ns, "checkout", ready_only=True)) == 3


LONG = {"baseline": "12s", "chaos": "12s", "recovery": "12s"}  # at least 10 whole seconds: classes can be judged


def _classes(st: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["comparison"], c["metric"]): c for c in st.get("analysis", [])}


def test_killing_one_of_three_replicas_is_equivalent_on_p50(box: Sandbox) -> None:
    start(box, "e2e-stats-one", 3, phases=LONG)
    st = wait_phase(box.emu, "kill", timeout=90, ns="e2e-stats-one")
    print("ONE", pretty(st["analysis"]))
    assert len(st["analysis"]) == 8, pretty(st)
    p50 = _classes(st)[("baselineVsChaos", "latencyP50")]
    assert p50["class"] == "Equivalent", pretty(st["analysis"])  # the two replicas left serve as fast
    assert -p50["tolerance"] <= p50["interval"][0] <= p50["estimate"] <= p50["interval"][1] <= p50["tolerance"]


# The pooled design effect reads the outage's one second as clustering and lends it to the error-free baseline,
# so a single short outage is Inconclusive (ClusteredErrors) at any phase length (docs/scoring.md, "Known limit").
@pytest.mark.xfail(strict=True, reason="a one-second outage is read as clustering noise")
def test_killing_the_only_replica_is_degraded_on_errors(box: Sandbox) -> None:
    start(box, "e2e-stats-solo", 1, phases=LONG, target={"selector": {"matchLabels": {"app": "checkout"}},
                                                          "mode": "one"}, slos={"maxErrorRate": 0.01})
    st = wait_phase(box.emu, "kill", timeout=90, ns="e2e-stats-solo")
    print("SOLO", pretty(st["analysis"]), pretty(st["phases"]["chaos"]), st["verdict"], st["reason"])
    assert len(st["analysis"]) == 8, pretty(st)
    errors = _classes(st)[("baselineVsChaos", "errorRate")]
    assert errors["class"] == "Degraded", pretty(st["analysis"])  # nothing answers until the replacement is up
    assert errors["interval"][0] > errors["tolerance"] == 0.01


# The same limit with an outage of several seconds (measured: 35 % errors in a 12 s chaos phase, 0 in the baseline,
# interval [-0.19, 0.78]): the outage's clustering is lent to the error-free baseline (docs/scoring.md). What the
# run says instead is checked here: the comparison names the cause, and maxErrorRate fails the run.
def test_killing_the_only_replica_of_a_service_that_warms_up_fails_and_says_its_errors_came_clustered(
        box: Sandbox) -> None:
    """A replacement that takes seconds to be ready, as real services do: the outage spans seconds, not one."""
    start(box, "e2e-stats-warm", 1, args=("--warmup-ms", "3000"), phases=LONG,
          target={"selector": {"matchLabels": {"app": "checkout"}}, "mode": "one"}, slos={"maxErrorRate": 0.01})
    st = wait_phase(box.emu, "kill", timeout=120, ns="e2e-stats-warm")
    print("WARM", pretty(st["analysis"]), pretty(st["phases"]["chaos"]), st["verdict"], st["reason"])
    assert (st["phase"], st["verdict"], st["reason"]) == ("Completed", "Failed", "SLOsViolated"), pretty(st)
    assert [(c["name"], c["phase"]) for c in st["checks"] if not c["passed"]] == [("maxErrorRate", "chaos")]
    assert st["phases"]["baseline"]["errors"] == 0
    errors = _classes(st)[("baselineVsChaos", "errorRate")]
    assert (errors["class"], errors["reason"]) == ("Inconclusive", "ClusteredErrors"), pretty(st["analysis"])
    assert errors["interval"][0] <= errors["tolerance"] == 0.01 < errors["estimate"]
