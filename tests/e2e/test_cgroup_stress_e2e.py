"""CPUStress inside the target, end to end: the real operator, its stress pod run by the sandbox as the real agent,
stress-ng moved into the target container's cgroups. A pod with a 0.5-CPU limit is throttled and slows under the
fault; a pod beside it on the same node, with its own 0.5-CPU limit, is neither throttled nor slowed.

Root and a cgroup the sandbox enforces a pod's CPU limit in: the v1 `cpu` hierarchy here, cgroup2 in the kernel VM
tier (`make kernel-test`, whose guest has cpu and memory there; slower phases and a lighter load, for software
emulation). Skipped with the reason otherwise. The figures print with `pytest -s`: throttled periods and time
from each pod's `cpu.stat`, and latency (the target's from the experiment's load, the neighbour's measured here)."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import pytest
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.operator_thread import OperatorThread

from tests.e2e.cgroupstats import Throttling, cpu_cgroup, latencies, p50, p95
from tests.e2e.faults import assert_nothing_left, example, figures, injected, latency
from tests.support.system import why_not
from tests.support.waits import wait_for, wait_phase
from tests.support.workloads import deployment, pretty

REASON = why_not()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")
HALF_CPU = {"cpu": "500m"}
NEIGHBOUR_PATH = "/cpu?ms=5"


@dataclass(frozen=True)
class Setting:
    hierarchy: str  # where the sandbox enforces CPU limits: "cpu" (v1) or "unified" (cgroup2)
    phases: dict[str, str]
    rate: int  # requests/s of /cpu?ms=10: 0.1-0.2 CPU, well inside the 0.5-CPU quota until the fault
    samples: int  # neighbour requests per window, 50 ms apart
    slack: float  # seconds the neighbour's p50 may gain (scheduling noise; large under emulation)


SETTINGS = [
    pytest.param(Setting("cpu", {"baseline": "6s", "chaos": "8s", "recovery": "4s"}, 20, 40, 0.005),
                 marks=pytest.mark.timeout(120), id="v1"),
    pytest.param(Setting("unified", {"baseline": "12s", "chaos": "24s", "recovery": "12s"}, 10, 30, 0.05),
                 marks=[pytest.mark.kernel_vm, pytest.mark.timeout(600)], id="v2"),
]


def stress_ng_in(cgroup: pathlib.Path) -> int:
    count = 0
    for pid in (cgroup / "cgroup.procs").read_text().split():
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
                count += handle.read().startswith("stress-ng")
        except OSError:
            continue
    return count


@pytest.mark.parametrize("setting", SETTINGS)
def test_cpu_stress_throttles_the_target_and_not_its_neighbour(setting: Setting, box: Sandbox,
                                                               operator: OperatorThread) -> None:
    if box.cgroups is None or setting.hierarchy not in box.cgroups.limited:
        pytest.skip(f"the sandbox enforces no CPU limit in {setting.hierarchy!r} here (it has "
                    f"{sorted(box.cgroups.limited) if box.cgroups else 'no cgroups'})")
    ns = f"e2e-cgstress-{setting.hierarchy}"
    box.apply(deployment(ns, "crunch", 1, args=["--latency-ms", "0"], limits=HALF_CPU))
    box.apply(deployment(ns, "beside", 1, args=["--latency-ms", "0"], limits=HALF_CPU))
    (target,) = box.wait_ready(ns, "crunch", 1, timeout=120)
    (neighbour,) = box.wait_ready(ns, "beside", 1, timeout=120)
    uids = {target["metadata"]["uid"], neighbour["metadata"]["uid"]}
    t_cg = cpu_cgroup(box, target["metadata"]["uid"], setting.hierarchy)
    n_cg = cpu_cgroup(box, neighbour["metadata"]["uid"], setting.hierarchy)
    quota = (t_cg / ("cpu.cfs_quota_us" if setting.hierarchy == "cpu" else "cpu.max")).read_text().split()[0]
    assert quota == "50000"
    neighbour_url = box.resolver.urls()[(ns, "beside", 8080)] + NEIGHBOUR_PATH

    t0, n0 = Throttling.read(t_cg), Throttling.read(n_cg)
    before = latencies(neighbour_url, setting.samples)
    t1, n1 = Throttling.read(t_cg), Throttling.read(n_cg)

    doc = example("solo-cpu-stress.yaml", ns, "crunch", phases=setting.phases)
    doc["spec"]["load"].update(rate=setting.rate)
    box.apply([doc])
    injected(box, ns, "solo-cpu-stress", timeout=120)
    wait_for("stress-ng and its 2 workers in the target's cpu cgroup", lambda: stress_ng_in(t_cg) >= 3, 30)
    t2, n2 = Throttling.read(t_cg), Throttling.read(n_cg)
    during = latencies(neighbour_url, setting.samples)
    t3, n3 = Throttling.read(t_cg), Throttling.read(n_cg)
    st = wait_phase(box.emu, "solo-cpu-stress", ns=ns, timeout=300)

    quiet_t, quiet_n, chaos_t, chaos_n = t1 - t0, n1 - n0, t3 - t2, n3 - n2
    print(f"\n[{setting.hierarchy}] CPUStress 2 workers at 100 % inside the target (0.5 CPU), load GET /cpu?ms=10 at "
          f"{setting.rate}/s:\n{figures(st)}\n"
          f"target    quiet: {quiet_t.describe()}; under stress: {chaos_t.describe()}\n"
          f"neighbour quiet: {quiet_n.describe()}; under stress: {chaos_n.describe()}\n"
          f"neighbour GET {NEIGHBOUR_PATH} x{setting.samples}: p50 {p50(before) * 1000:.1f} ms -> "
          f"{p50(during) * 1000:.1f} ms, p95 {p95(before) * 1000:.1f} ms -> {p95(during) * 1000:.1f} ms")
    assert st["phase"] == "Completed", pretty(st)
    # Throttled only while the workers get their whole quota: less so when this shared machine is busy, so loose.
    assert chaos_t.throttled >= 5 and chaos_t.throttled > quiet_t.throttled + 4, (quiet_t, chaos_t)
    assert chaos_n.throttled <= max(2, 0.1 * chaos_n.periods), chaos_n
    assert latency(st, "chaos") > 2 * latency(st, "baseline"), figures(st)
    assert p50(during) < 2 * p50(before) + setting.slack
    (final,) = st["injections"]
    assert final["state"] == "Recovered", pretty(final)
    assert_nothing_left(box, ns, uids)
