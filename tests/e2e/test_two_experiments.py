"""Two network experiments on one pod, end to end in the sandbox (real operator, real agents, tc in the pod's
network namespace): the second is refused — its records Failed with OtherExperiment and an InjectionFailed Event —
while the first's fault stays in place, still its own, until the first recovers it. Root only, like the other
sandbox fault tests."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from chaos_sandbox import leftovers
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.operator_thread import OperatorThread

from tests.e2e.faults import assert_nothing_left, example, injected
from tests.support.system import root_qdisc, why_not
from tests.support.waits import status_of, wait_phase
from tests.support.workloads import deployment, pretty

REASON = why_not()
pytestmark = [pytest.mark.skipif(REASON is not None, reason=REASON or ""), pytest.mark.timeout(120)]
LONG = {"baseline": "3s", "chaos": "60s", "recovery": "2s"}


@pytest.fixture
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(start_delay=0.3, max_seconds=300, work_dir=tmp_path_factory.mktemp("two")) as sb:
        yield sb
    left = leftovers.scan(sb.token)
    assert left.empty, left.describe()


def test_a_second_experiment_on_a_pod_is_refused_and_the_first_keeps_its_fault(box: Sandbox) -> None:
    ns = "e2e-two"
    box.apply(deployment(ns, "app", 1, args=[]))
    (pod,) = box.wait_ready(ns, "app", 1)
    netns = box.pod_netns(ns, pod["metadata"]["name"])
    assert netns is not None
    first = example("web-bandwidth.yaml", ns, "app", phases=LONG)
    first["spec"]["load"].update(path="/", rate=40)  # 120 requests in the 3 s baseline
    second = copy.deepcopy(first)
    second["metadata"]["name"] = "second"
    second["spec"]["fault"]["rate"] = "1mbit"
    with OperatorThread(box.url, box.resolver, poll_s=0.2) as operator:
        box.apply([first])
        injected(box, ns, "web-bandwidth")
        held = root_qdisc(netns)
        assert held.startswith("tbf c4a0:")
        box.apply([second])
        st = wait_phase(box.emu, "second", timeout=40, ns=ns)
        assert (st["phase"], st["reason"]) == ("Failed", "InjectionFailed"), pretty(st)
        (record,) = st["injections"]
        assert record["state"] == "Failed" and "OtherExperiment" in record["message"], pretty(record)
        events = [e["reason"] for e in box.emu.list("events", ns) if e["involvedObject"]["name"] == "second"]
        assert "InjectionFailed" in events
        # The first experiment's fault is still there and still Injected.
        assert root_qdisc(netns) == held
        assert [r["state"] for r in status_of(box.emu, "web-bandwidth", ns)["injections"]] == ["Injected"]
        box.emu.patch("chaosexperiments", ns, "web-bandwidth", {"spec": {"abort": True}})
        done = wait_phase(box.emu, "web-bandwidth", timeout=30, ns=ns)
    assert not operator.crashed, operator.error
    assert [r["state"] for r in done["injections"]] == ["Recovered"], pretty(done["injections"])
    assert root_qdisc(netns).split()[0] != "tbf"
    assert_nothing_left(box, ns, {pod["metadata"]["uid"]})
