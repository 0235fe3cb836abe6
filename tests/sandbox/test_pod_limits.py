"""A demo pod's CPU and memory limits, enforced in the v1 cpu and memory hierarchies (opt-in by its limits): parsing
(pure), and the real cgroups a pod with limits gets, and one without does not (root and those hierarchies)."""

from __future__ import annotations

import pathlib

import pytest
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.node import limits

from tests.support.system import why_not
from tests.support.waits import wait_for
from tests.support.workloads import deployment

REASON = why_not()
pytestmark = pytest.mark.timeout(60)
NS = "limits"
MOUNTS = ("cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
          "cgroup /sys/fs/cgroup/cpuset cgroup rw,relatime,cpuset 0 0\n"
          "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n")


@pytest.mark.parametrize(("cpu", "quota"), [("500m", 50_000), ("0.5", 50_000), ("2", 200_000), ("1m", 1000)])
def test_cpu_limits_become_a_quota_per_100ms(cpu: str, quota: int) -> None:
    assert limits.cpu_quota_us(cpu) == quota


@pytest.mark.parametrize(("memory", "size"), [("64Mi", 64 * 1024**2), ("1Gi", 1024**3), ("100M", 100 * 1000**2)])
def test_memory_limits_in_bytes(memory: str, size: int) -> None:
    assert limits.memory_bytes(memory) == size


@pytest.mark.parametrize("bad", ["-1", "1.5.0", "x", "500 m", "1e3", "5Ti"])
def test_malformed_limits_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        limits.cpu_quota_us(bad)
    with pytest.raises(ValueError):
        limits.memory_bytes(bad)


def test_only_declared_limits_are_written() -> None:
    pod = {"spec": {"containers": [{"resources": {"limits": {"cpu": "250m"}, "requests": {"memory": "1Gi"}}}]}}
    assert limits.of_pod(pod).files() == {"cpu": {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "25000"}}
    assert not limits.of_pod({"spec": {"containers": [{}]}}).any


def test_bases_are_this_process_own_cgroups_in_the_cpu_and_memory_hierarchies(tmp_path: pathlib.Path) -> None:
    own = "4:memory:/process_api/abc\n3:cpuset:/\n1:cpu:/\n0::/\n"
    found = limits.bases(MOUNTS, own)
    # Only where the control file is there (a real cgroup directory): none under this fake root.
    assert found == {} or set(found) <= {"cpu", "memory"}
    mounts = MOUNTS.replace("/sys/fs/cgroup", str(tmp_path))
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1")
    (tmp_path / "memory" / "process_api" / "abc").mkdir(parents=True)
    (tmp_path / "memory" / "process_api" / "abc" / "memory.limit_in_bytes").write_text("1")
    assert limits.bases(mounts, own) == {"cpu": tmp_path / "cpu", "memory": tmp_path / "memory/process_api/abc"}


def test_on_cgroup2_the_base_is_the_own_cgroup_when_it_gives_cpu_and_memory(tmp_path: pathlib.Path) -> None:
    mounts = f"cgroup {tmp_path}/pids cgroup rw,pids 0 0\ncgroup2 {tmp_path}/unified cgroup2 rw 0 0\n"
    own = "1:pids:/\n0::/sandbox\n"
    mine = tmp_path / "unified" / "sandbox"
    mine.mkdir(parents=True)
    (mine / "cgroup.subtree_control").write_text("pids\n")
    assert limits.bases(mounts, own) == {}  # cpu and memory are not given to its children: nothing enforced
    (mine / "cgroup.subtree_control").write_text("cpu memory pids\n")
    assert limits.bases(mounts, own) == {"unified": mine}
    assert limits.Limits(50_000, 64 * 1024**2).unified_files() == {"cpu.max": "50000 100000",
                                                                   "memory.max": str(64 * 1024**2)}


def own_cgroups(pid: int) -> dict[str, str]:
    out = {}
    for line in pathlib.Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            out[controller] = path
    return out


@pytest.mark.skipif(REASON is not None, reason=REASON or "")
def test_a_pod_with_limits_gets_them_and_one_without_runs_as_before(sandbox: Sandbox) -> None:
    assert sandbox.cgroups is not None
    if set(sandbox.cgroups.limited) != {"cpu", "memory"}:
        pytest.skip(f"no cgroup v1 cpu and memory hierarchies here: {sorted(sandbox.cgroups.limited)}")
    sandbox.apply(deployment(NS, "limited", 1, limits={"cpu": "500m", "memory": "96Mi"}))
    sandbox.apply(deployment(NS, "free", 1))
    (limited,) = sandbox.wait_ready(NS, "limited", 1)
    (free,) = sandbox.wait_ready(NS, "free", 1)
    roots = {name: base / sandbox.cgroups.root.name for name, base in sandbox.cgroups.limited.items()}
    (cpu,) = [d for d in roots["cpu"].glob(f"kubepods/burstable/pod{limited['metadata']['uid']}/*") if d.is_dir()]
    (memory,) = [d for d in roots["memory"].glob(f"kubepods/burstable/pod{limited['metadata']['uid']}/*")
                 if d.is_dir()]
    assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"
    assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
    assert (memory / "memory.limit_in_bytes").read_text().strip() == str(96 * 1024**2)
    pids = [int(p) for p in (cpu / "cgroup.procs").read_text().split()]
    assert sandbox.pod_pid(NS, limited["metadata"]["name"]) in pids, pids
    assert [int(p) for p in (memory / "cgroup.procs").read_text().split()] == pids
    assert own_cgroups(pids[0])["pids"].endswith(f"/kubepods/burstable/pod{limited['metadata']['uid']}/{cpu.name}")
    assert not list(roots["cpu"].glob(f"kubepods/*/pod{free['metadata']['uid']}"))
    sandbox.emu.delete("pods", NS, limited["metadata"]["name"], grace=0)
    wait_for("the limited pod's cgroups removed", lambda: not cpu.parent.exists() and not memory.parent.exists(), 15)
