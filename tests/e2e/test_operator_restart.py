"""A run survives its operator (issue 16 item 4; docs/architecture.md, "A run survives the operator"): the load
workers keep measuring while no operator runs, and the next one picks the run up where status places it in their
data. SIGKILLed mid-chaos, stopped gracefully in Recovery: each run still ends Completed with a verdict from all
three phases at full coverage and a whole timeline. Only where the workers' data is gone does the run end
Failed/OperatorRestarted, with every fault recovered."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.loadworker import job
from tests.e2e.faults import OPERATOR_NS, assert_nothing_left, example, injected
from tests.e2e.test_load_workers import KEY, start, worker_pods
from tests.support.system import root_qdisc, why_not
from tests.support.waits import status_of, wait_for, wait_phase
from tests.support.workloads import deployment, pretty

pytestmark = pytest.mark.timeout(180)
PHASES = {"baseline": "4s", "chaos": "8s", "recovery": "5s"}
NO_ROOT = why_not()  # helper faults need root (network namespaces, tc)


@contextmanager
def crashing_operator(box: Sandbox) -> Iterator[None]:
    """An operator process with load workers that is SIGKILLed when the block ends: nothing of it runs its exit."""
    argv = [sys.executable, "-m", "tests.support.operator_process", "--server", box.url, "--max-seconds", "120",
            "--load-runner", "workers", "--load-token-key", KEY.decode()]
    root = pathlib.Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def split_noted(box: Sandbox, name: str, ns: str) -> None:
    """Wait until the chaos window's split (the instant the fault held) is in status: the crash these tests are
    about. The split is written just after the Injected records; a crash between the two is another case (the
    window starts over, docs/architecture.md, "A run survives the operator"), so the kill waits for it."""
    wait_for("the chaos split in status", lambda: "split" in (
        status_of(box.emu, name, ns).get("loadSpans") or {}).get("chaos", {}), 60, every=0.1)


def assert_whole_run(st: dict[str, Any]) -> None:
    assert st["phase"] == "Completed" and st.get("verdict") is not None, pretty(st)
    assert st["reason"] not in ("OperatorRestarted", "LowCoverage"), pretty(st)
    assert "picked up" in st["message"], st["message"]
    for name in ("baseline", "chaos", "recovery"):
        phase = st["phases"][name]
        assert phase["coverage"] >= 0.95 and phase["requests"] > 0, (name, pretty(phase))
        assert st["loadSpans"][name]["end"] >= st["loadSpans"][name]["start"], pretty(st["loadSpans"])
    assert st["phases"]["chaos"]["faultHeld"]["seconds"] > 0, pretty(st["phases"]["chaos"])
    assert [w["phase"] for w in st["timeline"]["windows"]] == ["baseline", "chaos", "recovery"], pretty(st["timeline"])
    assert not any(c.get("inconclusive") for c in st["checks"]), pretty(st["checks"])


def gone(box: Sandbox, ns: str, uid: str) -> bool:
    return box.emu.get("jobs", ns, job.names("kill", uid)["job"]) is None and not box.emu.list(
        "pods", ns, label_selector=f"{job.UID_LABEL}={uid}")


def test_a_run_survives_an_operator_sigkilled_mid_chaos(box: Sandbox) -> None:
    ns = "e2e-restart-chaos"
    with crashing_operator(box):
        uid = start(box, ns, phases=PHASES)["metadata"]["uid"]
        worker_pods(box, ns, uid, 2)
        split_noted(box, "kill", ns)
    assert status_of(box.emu, "kill", ns)["phase"] == "Chaos"
    with OperatorThread(box.url, box.resolver, load_runner="workers", load_token_key=KEY) as operator:
        st = wait_phase(box.emu, "kill", ns=ns, timeout=90)
        wait_for("the run's load Job and pods deleted", lambda: gone(box, ns, uid), 60)
    assert not operator.crashed, operator.error
    print("\n" + pretty({"verdict": st["verdict"], "reason": st["reason"], "message": st["message"],
                         "loadSpans": st["loadSpans"], "faultHeld": st["phases"]["chaos"]["faultHeld"],
                         "requests": {k: st["phases"][k]["requests"] for k in ("baseline", "chaos", "recovery")},
                         "recoveryTime": st.get("recoveryTime")}))
    assert_whole_run(st)
    spans = st["loadSpans"]  # the window went on to its planned end under the new operator
    assert spans["chaos"]["end"] - spans["chaos"]["start"] >= 8.0 - 0.01, pretty(spans)
    assert all(r["state"] == "Recovered" for r in st["injections"]), pretty(st["injections"])


def test_a_run_survives_a_graceful_stop_in_recovery(box: Sandbox) -> None:
    """A helm upgrade or a drain: the daemon stops and leaves the workers to the next operator."""
    ns = "e2e-restart-recovery"
    with OperatorThread(box.url, box.resolver, load_runner="workers", load_token_key=KEY) as first:
        uid = start(box, ns, phases=PHASES)["metadata"]["uid"]
        wait_phase(box.emu, "kill", ("Recovery",), ns=ns, timeout=60)
    assert not first.crashed, first.error
    assert status_of(box.emu, "kill", ns)["phase"] == "Recovery" and not gone(box, ns, uid)
    with OperatorThread(box.url, box.resolver, load_runner="workers", load_token_key=KEY) as operator:
        st = wait_phase(box.emu, "kill", ns=ns, timeout=90)
    assert not operator.crashed, operator.error
    assert_whole_run(st)
    spans = st["loadSpans"]
    # The recovery phase ran its whole length across the two operators.
    assert spans["recovery"]["end"] - spans["recovery"]["start"] >= 5.0 - 0.01, pretty(spans)


HELD_PHASES = {"baseline": "3s", "chaos": "10s", "recovery": "3s"}


def bandwidth(box: Sandbox, ns: str) -> dict[str, str]:
    """One `bulk` pod, and a NetworkBandwidth experiment on it with its load sent by one worker."""
    box.apply(deployment(ns, "bulk", 1, args=["--latency-ms", "1"]))
    (pod,) = box.wait_ready(ns, "bulk", 1)
    netns = box.pod_netns(ns, pod["metadata"]["name"])
    assert netns is not None
    doc = example("web-bandwidth.yaml", ns, "bulk", phases=HELD_PHASES)
    doc["spec"]["load"].update(path="/", rate=40)
    box.apply([doc])
    return {"uid": pod["metadata"]["uid"], "netns": netns}


@pytest.mark.skipif(NO_ROOT is not None, reason=NO_ROOT or "")
def test_a_helper_fault_that_held_while_no_operator_ran_goes_on_to_its_planned_end(box: Sandbox) -> None:
    """The helper is still there when the next operator comes: it held its fault all along (an agent holds it for
    as long as it runs), so the window goes on to its planned end under the new operator, which reverts it."""
    ns = "e2e-restart-helper"
    with crashing_operator(box):
        pod = bandwidth(box, ns)
        injected(box, ns, "web-bandwidth", timeout=45)
        split_noted(box, "web-bandwidth", ns)
    assert root_qdisc(pod["netns"]).startswith("tbf")  # what a crash leaves: the fault, held by its helper
    with OperatorThread(box.url, box.resolver, load_runner="workers", load_token_key=KEY) as operator:
        st = wait_phase(box.emu, "web-bandwidth", ns=ns, timeout=60)
    assert not operator.crashed, operator.error
    assert st["phase"] == "Completed" and st.get("verdict") is not None, pretty(st)
    assert "picked up" in st["message"], st["message"]
    spans, fault_held = st["loadSpans"], st["phases"]["chaos"]["faultHeld"]
    print("\n" + pretty({"verdict": st["verdict"], "reason": st["reason"], "chaos": spans["chaos"],
                         "faultHeld": fault_held}))
    assert spans["chaos"]["end"] - spans["chaos"]["start"] >= 10.0 - 0.01, pretty(spans)
    # Held from when the helper had it in place to the window's end, the restart in between included.
    held_s = spans["chaos"]["end"] - spans["chaos"]["split"]
    assert abs(fault_held["seconds"] - held_s) < 0.1 and not fault_held.get("lost"), pretty(fault_held)
    assert [r["state"] for r in st["injections"]] == ["Recovered"], pretty(st["injections"])
    assert_nothing_left(box, ns, {pod["uid"]})


@pytest.mark.skipif(NO_ROOT is not None, reason=NO_ROOT or "")
def test_a_helper_lost_while_no_operator_ran_is_not_claimed(box: Sandbox) -> None:
    """The helper is gone when the next operator comes: when its fault stopped cannot be known, so nothing after
    the fault took hold is claimed (held 0 s) and the verdict cannot be Passed."""
    ns = "e2e-restart-lost"
    with crashing_operator(box):
        pod = bandwidth(box, ns)
        (record,) = injected(box, ns, "web-bandwidth", timeout=45)
        split_noted(box, "web-bandwidth", ns)
    box.emu.delete("pods", OPERATOR_NS, record["helperPod"], grace=0)
    wait_for("the helper gone", lambda: box.emu.get("pods", OPERATOR_NS, record["helperPod"]) is None, 30)
    with OperatorThread(box.url, box.resolver, load_runner="workers", load_token_key=KEY) as operator:
        st = wait_phase(box.emu, "web-bandwidth", ns=ns, timeout=60)
    assert not operator.crashed, operator.error
    fault_held = st["phases"]["chaos"]["faultHeld"]
    print("\n" + pretty({"verdict": st.get("verdict"), "reason": st["reason"], "message": st["message"],
                         "faultHeld": fault_held}))
    assert fault_held["seconds"] == 0 and fault_held["lost"], pretty(fault_held)
    assert st["phase"] == "Completed" and st.get("verdict") not in ("Passed", None), pretty(st)
    assert [r["state"] for r in st["injections"]] == ["Recovered"], pretty(st["injections"])
    assert_nothing_left(box, ns, {pod["uid"]})


def test_a_run_whose_workers_are_gone_ends_failed(box: Sandbox) -> None:
    """The data itself is gone (the Job deleted while no operator ran): Failed/OperatorRestarted, faults recovered,
    never a Completed run that automation could read as a measurement."""
    ns = "e2e-restart-gone"
    with crashing_operator(box):
        uid = start(box, ns, phases=PHASES)["metadata"]["uid"]
        worker_pods(box, ns, uid, 2)
        split_noted(box, "kill", ns)
    box.emu.delete("jobs", ns, job.names("kill", uid)["job"])
    wait_for("the workers gone with their Job", lambda: gone(box, ns, uid), 60)
    with OperatorThread(box.url, box.resolver, load_runner="workers", load_token_key=KEY) as operator:
        st = wait_phase(box.emu, "kill", ns=ns, timeout=60)
    assert not operator.crashed, operator.error
    assert (st["phase"], st.get("verdict"), st["reason"]) == ("Failed", None, "OperatorRestarted"), pretty(st)
    assert "data is gone" in st["message"], st["message"]
    assert all(r["state"] == "Recovered" for r in st["injections"]), pretty(st["injections"])
    names = job.names("kill", uid)
    assert box.emu.get("configmaps", ns, names["config"]) is None and box.emu.get("secrets", ns, names["token"]) is None
