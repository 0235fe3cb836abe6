"""`agent stress` running the real stress-ng: visible while it runs, gone after, honest about OOM."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import sys
import time

import pytest

from tests.agent.kernel import Cgroup, Procs, finish, own_memory_cgroup, processes, stop, stress_tree
from tests.support.waits import wait_for

# Moves itself into a cgroup, then becomes the agent: no shell string, no race with stress-ng's start.
ENTER_CGROUP = "import os, sys; open(sys.argv[1], 'w').write(str(os.getpid())); os.execv(sys.argv[2], sys.argv[2:])"


@pytest.fixture(autouse=True)
def stress_ng() -> None:
    if shutil.which("stress-ng") is None:
        pytest.skip("stress-ng is not installed (apt-get install stress-ng)")


def group_members(pgid: int) -> list[int]:
    return [pid for pid, (_, _, pgrp, _) in processes().items() if pgrp == pgid]


def test_stress_runs_is_visible_and_gone_after_deadline(procs: Procs, tmp_path: pathlib.Path) -> None:
    log = tmp_path / "termination-log"
    agent = procs.agent("stress", "--cpu", "1", "--cpu-load", "20", "--vm", "1", "--vm-bytes", "16M",
                        "--duration", "2", "--termination-log", str(log))
    wait_for("stress-ng and its workers", lambda: len(stress_tree(agent.pid)) >= 3, 10)
    seen = stress_tree(agent.pid)
    code, report, err = finish(agent, 30)
    print(f"\n[agent figures] stress-ng tree while running: {sorted(seen.values())}; workers {report['workers']}")
    assert code == 0, err
    assert sorted(seen.values()) == ["stress-ng", "stress-ng-cpu", "stress-ng-vm"]
    assert report["state"] == "completed" and report["ended_by"] == "deadline"
    assert (report["workers_started"], report["workers_completed"], report["workers_failed"]) == (2, 2, 0)
    assert report["workers"]["cpu"]["bogo_ops"] > 0 and report["workers"]["vm"]["bogo_ops"] > 0
    assert report["pid"] in seen
    assert group_members(report["pid"]) == [] and not any(pid in processes() for pid in seen)
    assert json.loads(log.read_text()) == report


def test_sigterm_stops_stress_early(procs: Procs) -> None:
    agent = procs.agent("stress", "--cpu", "2", "--cpu-load", "30", "--duration", "60")
    wait_for("stress-ng and its workers", lambda: len(stress_tree(agent.pid)) >= 3, 10)
    seen = stress_tree(agent.pid)
    time.sleep(0.5)
    sent = stop(agent, signal.SIGTERM)
    code, report, err = finish(agent, 15)
    took = time.monotonic() - sent
    print(f"\n[agent figures] stress SIGTERM -> agent and stress-ng gone in {took * 1000:.0f} ms")
    assert code == 0, err
    assert report["state"] == "stopped" and report["ended_by"] == "SIGTERM"
    assert report["workers_failed"] == 0
    assert took < 3.0
    assert not any(pid in processes() for pid in seen)


def test_oom_killed_workers_are_reported_as_failed(procs: Procs) -> None:
    parent = own_memory_cgroup()
    if os.geteuid() != 0 or parent is None:
        pytest.skip("needs root and a writable cgroup v1 memory hierarchy")
    cgroup = Cgroup(parent, [f"co-test-oom-{os.getpid()}-{time.monotonic_ns() % 100000}"]).create()
    try:
        (cgroup.path / "memory.limit_in_bytes").write_text(str(64 * 1024 * 1024))
        agent = procs.agent("stress", "--vm", "1", "--vm-bytes", "256M", "--duration", "3",
                            prefix=[sys.executable, "-c", ENTER_CGROUP, str(cgroup.path / "cgroup.procs")])
        code, report, err = finish(agent, 30)
        oom_kills = next(int(line.split()[1]) for line in (cgroup.path / "memory.oom_control").read_text().splitlines()
                         if line.startswith("oom_kill "))
        print(f"\n[agent figures] vm 256M in a 64M cgroup: kernel oom_kill={oom_kills}; "
              f"exit {code}; report workers {report.get('workers')}; error: {report['error']}")
        assert oom_kills > 0
        assert code == 7, err
        assert report["state"] == "failed" and report["reason"] == "WorkersFailed"
        assert report["exit_status"] == 0  # stress-ng itself claims success ...
        assert report["workers_failed"] == 1 and report["workers_completed"] == 0  # ... the agent does not
        assert report["workers"]["vm"]["oom_kills"] > 0
        assert "OOM" in report["error"]
    finally:
        procs.close()
        cgroup.remove()
