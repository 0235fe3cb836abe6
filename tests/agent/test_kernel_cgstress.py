"""`agent stress --pod-uid`: stress-ng runs inside the target container's cgroups, so the target's own CPU quota
and memory limit are what it exhausts, and it ends with the agent however the agent ends.

Real test-made cgroups and real stress-ng. cgroup v1 runs here (agent tier); cgroup v2 in the kernel VM tier
(`make kernel-test`, where the guest puts cpu and memory on the unified hierarchy). Figures print with `-s`.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator

import pytest

from tests.agent.cgtarget import LimitedPod, v1_ready, v2_ready
from tests.agent.kernel import CGROUP_ROOT, Procs, finish, processes
from tests.support.waits import wait_for

VERSIONS = [pytest.param("v1", id="v1"), pytest.param("v2", id="v2", marks=pytest.mark.kernel_vm)]
MIB = 1024 * 1024
# Joins a cgroup, then a new cgroup namespace rooted there, then becomes the agent: the view a container has.
PRIVATE_CGROUPNS = ("import os, sys; open(sys.argv[1], 'w').write(str(os.getpid())); "
                    "os.execvp('unshare', ['unshare', '--cgroup', *sys.argv[2:]])")


@pytest.fixture(params=VERSIONS)
def limited(request: pytest.FixtureRequest, kernel: None) -> Iterator[LimitedPod]:
    if shutil.which("stress-ng") is None:
        pytest.skip("stress-ng is not installed (apt-get install stress-ng)")
    why = v1_ready() if request.param == "v1" else v2_ready()
    if why:
        pytest.skip(why)
    pod = LimitedPod(request.param, cpu_quota=0.5, memory=64 * MIB).start()
    try:
        yield pod
    finally:
        pod.stop()


def stress_in(pod: LimitedPod) -> list[int]:
    table = processes()
    return [pid for pid in pod.procs() if pid in table and table[pid][0].startswith("stress-ng")]


def stress_args(pod: LimitedPod, *workers: str, duration: str = "4") -> list[str]:
    return ["stress", *workers, "--duration", duration, "--pod-uid", pod.uid, "--proc-root", "/proc",
            "--cgroup-root", str(CGROUP_ROOT)]


def test_cpu_stress_runs_in_the_target_and_is_throttled_by_its_quota(limited: LimitedPod, procs: Procs) -> None:
    before, started = limited.throttling(), time.monotonic()
    agent = procs.agent(*stress_args(limited, "--cpu", "2"))
    wait_for("stress-ng and its 2 workers in the target's cgroup", lambda: len(stress_in(limited)) >= 3, 30)
    code, report, err = finish(agent, 60)
    wall = time.monotonic() - started
    after = limited.throttling()
    periods, throttled, used = (a - b for a, b in zip(after, before, strict=True))
    print(f"\n[agent figures] {limited.version}: CPUStress 2 workers in a 0.5-CPU container for {wall:.1f}s: "
          f"{periods} periods throttled, {throttled:.2f}s throttled, {used:.2f} CPU-s used; cgroups "
          f"{report.get('cgroups')}")
    assert code == 0, err
    assert report["state"] == "completed" and report["workers_failed"] == 0
    assert all(limited.uid.replace("-", "_") in c or limited.uid in c for c in report["cgroups"])
    assert any(c.startswith(("cpu", "unified")) for c in report["cgroups"])
    assert periods >= 10 and throttled > 0.5
    assert used < 0.5 * wall + 0.5  # the quota held: 2 busy workers got half a CPU
    assert stress_in(limited) == [] and limited.proc is not None and limited.proc.poll() is None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stress_ends_with_the_agent_though_it_is_in_another_cgroup(
        sig: signal.Signals, limited: LimitedPod, procs: Procs) -> None:
    agent = procs.agent(*stress_args(limited, "--cpu", "2", duration="60"))
    wait_for("stress-ng and its 2 workers in the target's cgroup", lambda: len(stress_in(limited)) >= 3, 30)
    seen = stress_in(limited)
    sent = time.monotonic()
    agent.send_signal(sig)
    gone = wait_for("every stress-ng process gone", lambda: not any(p in processes() for p in seen), 15)
    took = time.monotonic() - sent
    agent.communicate(timeout=15)
    print(f"\n[agent figures] {limited.version}: agent {sig.name} -> stress-ng ({len(seen)} processes, in the "
          f"target's cgroup) gone in {took * 1000:.0f} ms")
    assert gone and stress_in(limited) == []
    assert limited.proc is not None and limited.proc.poll() is None  # the target itself is untouched


def test_memory_stress_past_the_target_limit_reports_its_oom_kills(limited: LimitedPod, procs: Procs) -> None:
    before = limited.oom_kills()
    agent = procs.agent(*stress_args(limited, "--vm", "1", "--vm-bytes", "128M", duration="4"))
    code, report, err = finish(agent, 60)
    kills = limited.oom_kills() - before
    print(f"\n[agent figures] {limited.version}: vm 128M in a 64M container: the target's oom_kill +{kills}; "
          f"exit {code}; workers {report.get('workers')}")
    assert kills > 0
    assert code == 7, err
    assert report["state"] == "failed" and report["reason"] == "WorkersFailed"
    assert report["workers"]["vm"]["oom_kills"] > 0 and report["workers_completed"] == 0
    assert limited.proc is not None and limited.proc.poll() is None  # stress-ng's worker was the one killed


def test_an_agent_in_a_private_cgroup_namespace_joins_the_hosts_to_move(limited: LimitedPod, procs: Procs,
                                                                        tmp_path: os.PathLike[str]) -> None:
    """As in a container on cgroup v2: the target's paths read `/../..` and a move outside the namespace is
    refused, so the agent enters PID 1's cgroup namespace first."""
    try:
        os.readlink("/proc/1/ns/cgroup")
    except OSError as exc:
        pytest.skip(f"this machine lets no process open PID 1's namespaces: {exc}")
    holder = limited.cgroups["pids" if limited.version == "v1" else "unified"].path.parent.parent / "co-agent"
    holder.mkdir()
    try:
        argv = [sys.executable, "-c", PRIVATE_CGROUPNS, str(holder / "cgroup.procs")]
        agent = procs.agent(*stress_args(limited, "--cpu", "1", duration="2"), prefix=argv)
        code, report, err = finish(agent, 60)
        assert code == 0, (report["error"], err)
        assert report["state"] == "completed" and report["cgroups"], report
    finally:
        wait_for("the agent's cgroup empty", lambda: not (holder / "cgroup.procs").read_text().split(), 10)
        holder.rmdir()
