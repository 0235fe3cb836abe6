"""CPUStress inside the target, end to end: the real operator, its stress pod run by the sandbox as the real agent,
stress-ng moved into the target container's cgroups. A pod with a 0.5-CPU limit is throttled and slows under the
fault; a pod beside it on the same node, with its own 0.5-CPU limit, is neither throttled nor slowed.

Root and the cgroup v1 `cpu` hierarchy (the sandbox enforces a pod's CPU limit there); skipped with the reason
otherwise. The figures print with `pytest -s`: throttled periods and time from each pod's `cpu.stat`, and latency
(the target's from the experiment's load, the neighbour's measured here)."""

from __future__ import annotations

import pathlib

import pytest
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.operator_thread import OperatorThread

from tests.e2e.cgroupstats import Throttling, cpu_cgroup, latencies, p50, p95
from tests.e2e.faults import assert_nothing_left, example, figures, injected, latency
from tests.support.system import why_not
from tests.support.waits import wait_for, wait_phase
from tests.support.workloads import deployment, pretty

REASON = why_not()
pytestmark = [pytest.mark.skipif(REASON is not None, reason=REASON or ""), pytest.mark.timeout(120)]
PHASES = {"baseline": "6s", "chaos": "8s", "recovery": "4s"}
HALF_CPU = {"cpu": "500m"}
NEIGHBOUR_PATH = "/cpu?ms=5"
SAMPLES = 40  # neighbour requests per window, 50 ms apart: about 2.5 s, well inside the chaos window


def stress_ng_in(cgroup: pathlib.Path) -> int:
    count = 0
    for pid in (cgroup / "cgroup.procs").read_text().split():
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
                count += handle.read().startswith("stress-ng")
        except OSError:
            continue
    return count


def test_cpu_stress_throttles_the_target_and_not_its_neighbour(box: Sandbox, operator: OperatorThread) -> None:
    if box.cgroups is None or "cpu" not in box.cgroups.limited:
        pytest.skip("no cgroup v1 cpu hierarchy: the sandbox cannot enforce a CPU limit here")
    ns = "e2e-cgstress"
    box.apply(deployment(ns, "crunch", 1, args=["--latency-ms", "0"], limits=HALF_CPU))
    box.apply(deployment(ns, "beside", 1, args=["--latency-ms", "0"], limits=HALF_CPU))
    (target,) = box.wait_ready(ns, "crunch", 1)
    (neighbour,) = box.wait_ready(ns, "beside", 1)
    uids = {target["metadata"]["uid"], neighbour["metadata"]["uid"]}
    t_cg, n_cg = cpu_cgroup(box, target["metadata"]["uid"]), cpu_cgroup(box, neighbour["metadata"]["uid"])
    assert (t_cg / "cpu.cfs_quota_us").read_text().strip() == "50000"
    neighbour_url = box.resolver.urls()[(ns, "beside", 8080)] + NEIGHBOUR_PATH

    t0, n0 = Throttling.read(t_cg), Throttling.read(n_cg)
    before = latencies(neighbour_url, SAMPLES)
    t1, n1 = Throttling.read(t_cg), Throttling.read(n_cg)

    doc = example("solo-cpu-stress.yaml", ns, "crunch", phases=PHASES)
    doc["spec"]["load"].update(rate=20)  # 0.2 CPU of /cpu?ms=10: well inside the 0.5-CPU quota until the fault
    box.apply([doc])
    injected(box, ns, "solo-cpu-stress")
    wait_for("stress-ng and its 2 workers in the target's cpu cgroup", lambda: stress_ng_in(t_cg) >= 3, 10)
    t2, n2 = Throttling.read(t_cg), Throttling.read(n_cg)
    during = latencies(neighbour_url, SAMPLES)
    t3, n3 = Throttling.read(t_cg), Throttling.read(n_cg)
    st = wait_phase(box.emu, "solo-cpu-stress", ns=ns)

    quiet_t, quiet_n, chaos_t, chaos_n = t1 - t0, n1 - n0, t3 - t2, n3 - n2
    print(f"\nCPUStress 2 workers at 100 % inside the target (0.5 CPU), load GET /cpu?ms=10 at 20/s:\n{figures(st)}\n"
          f"target    quiet: {quiet_t.describe()}; under stress: {chaos_t.describe()}\n"
          f"neighbour quiet: {quiet_n.describe()}; under stress: {chaos_n.describe()}\n"
          f"neighbour GET {NEIGHBOUR_PATH} x{SAMPLES}: p50 {p50(before) * 1000:.1f} ms -> {p50(during) * 1000:.1f} ms, "
          f"p95 {p95(before) * 1000:.1f} ms -> {p95(during) * 1000:.1f} ms")
    assert st["phase"] == "Completed", pretty(st)
    assert chaos_t.throttled >= 10 and chaos_t.seconds > 0.5, chaos_t
    assert chaos_t.throttled > 0.5 * chaos_t.periods, chaos_t  # throttled in most periods of the window
    assert chaos_n.throttled <= max(2, 0.1 * chaos_n.periods), chaos_n
    assert latency(st, "chaos") > 2 * latency(st, "baseline"), figures(st)
    assert p50(during) < 2 * p50(before) + 0.005
    (final,) = st["injections"]
    assert final["state"] == "Recovered", pretty(final)
    assert_nothing_left(box, ns, uids)
