"""stress-ng argv and the honest reading of its output, on outputs captured from stress-ng 0.15.06."""

from __future__ import annotations

import pathlib

import pytest

from chaos_operator.agent import stress

DATA = pathlib.Path(__file__).parent / "data"


def parse(name: str) -> stress.StressResult:
    return stress.parse_output((DATA / f"stress-{name}.txt").read_text())


def test_argv_cpu_and_vm() -> None:
    assert stress.stress_argv(10, "/tmp/s", cpu=2, cpu_load=50) == [
        "stress-ng", "--cpu", "2", "--cpu-load", "50",
        "--timeout", "10s", "--metrics-brief", "--verbose", "--temp-path", "/tmp/s",
    ]
    assert stress.stress_argv(2.5, "/t", vm=1, vm_bytes="1G") == [
        "stress-ng", "--vm", "1", "--vm-bytes", "1G", "--vm-keep",
        "--timeout", "3s", "--metrics-brief", "--verbose", "--temp-path", "/t",
    ]
    both = stress.stress_argv(0.2, "/t", cpu=1, vm=2, vm_bytes="50%")
    assert both[:9] == ["stress-ng", "--cpu", "1", "--cpu-load", "100", "--vm", "2", "--vm-bytes", "50%"]
    assert both[both.index("--timeout") + 1] == "1s"


@pytest.mark.parametrize("kwargs", [
    {}, {"cpu": 0, "vm": 0}, {"cpu": 257}, {"cpu": -1}, {"cpu": True}, {"cpu": 1, "cpu_load": 0},
    {"cpu": 1, "cpu_load": 101}, {"vm": 1, "vm_bytes": "256MB"}, {"vm": 1, "vm_bytes": "0M"},
    {"vm": 1, "vm_bytes": "1T"}, {"vm": 1, "vm_bytes": "101%"}, {"vm": 1, "vm_bytes": "256"},
])
def test_argv_refuses(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        stress.stress_argv(5, "/tmp", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [0, -1, 86401])
def test_argv_refuses_durations(seconds: float) -> None:
    with pytest.raises(ValueError):
        stress.stress_argv(seconds, "/tmp", cpu=1)


def test_successful_runs() -> None:
    for name, expected in [("cpu", {"cpu": 3700}), ("cpu-vm", {"cpu": 867, "vm": 151780}), ("sigterm", None)]:
        result = parse(name)
        assert result.ok and result.run == "successful" and result.verbose
        assert result.total("failed") == 0
        assert result.total("completed") == result.total("started") == result.total("requested")
        if expected:
            assert {n: w["bogo_ops"] for n, w in result.workers().items()} == expected
    quiet = parse("cpu-quiet")  # without --verbose: counts come from the dispatch line and metrics
    assert quiet.ok and not quiet.verbose and quiet.workers()["cpu"]["completed"] == 2


def test_oom_killed_and_respawned_vm_workers_are_failures() -> None:
    # stress-ng says "successful run completed" and exits 0, yet both workers were OOM-killed
    # 33 times in a 64M memory cgroup and did no work.
    result = parse("vm-oom")
    assert result.run == "successful"
    assert not result.ok
    assert result.workers()["vm"] == {
        "requested": 2, "started": 2, "completed": 0, "failed": 2, "deaths": 33, "oom_kills": 33, "bogo_ops": 0,
    }
    assert "vm: 2 of 2 workers failed (33 OOM kills" in result.problems()[0]


def test_quiet_and_oomable_oom_runs_still_fail_on_zero_work() -> None:
    for name in ["vm-oom-quiet", "vm-oomable"]:
        result = parse(name)
        assert result.run == "successful" and not result.ok
        assert result.workers()["vm"]["failed"] == 2
        assert result.workers()["vm"]["bogo_ops"] == 0


def test_worker_killed_by_signal() -> None:
    result = parse("worker-killed")
    assert result.run == "unsuccessful" and not result.ok
    cpu = result.workers()["cpu"]
    assert (cpu["requested"], cpu["started"], cpu["completed"], cpu["failed"], cpu["deaths"]) == (2, 2, 1, 1, 1)
    assert any("corrupted" in e for e in result.errors)


def test_stress_ng_itself_killed() -> None:
    result = parse("parent-killed")
    assert result.run is None and not result.ok
    assert result.workers()["cpu"]["failed"] == 2  # no metrics: nothing proves any worker did its job
    assert result.problems()[0] == "stress-ng did not finish its run"


def test_garbage_and_empty() -> None:
    for text in ["", "random\nlines\n", "stress-ng: info:  [1] successful run completed in 1s"]:
        result = stress.parse_output(text)
        assert not result.ok


def test_started_workers_counts_each_instance_once_as_the_output_grows() -> None:
    """The agent's readiness for stress: ready once every requested worker said "started" (output read live)."""
    text = (DATA / "stress-cpu-vm.txt").read_text()
    lines = text.splitlines(keepends=True)
    total = stress.started_workers(text)
    counts = [stress.started_workers("".join(lines[:n])) for n in range(len(lines) + 1)]
    assert total == 2 and counts[0] == 0 and counts[-1] == total and counts == sorted(counts)  # 1 cpu, 1 vm
    assert stress.started_workers(text + text) == total  # a line read twice is one worker
