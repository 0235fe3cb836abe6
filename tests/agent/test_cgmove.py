"""cgmove's reading of /proc/PID/cgroup and the host's cgroupfs layout (pure, over a made-up proc root)."""

from __future__ import annotations

import pathlib

import pytest

from chaos_operator.agent import cgmove, procfs

UID = "0f1e2d3c-4b5a-4968-8776-655443322110"
CID = "ab" * 32
V1 = (f"12:pids:/kubepods/burstable/pod{UID}/{CID}\n"
      f"11:cpu,cpuacct:/kubepods/burstable/pod{UID}/{CID}\n"
      f"10:memory:/kubepods/burstable/pod{UID}/{CID}\n"
      "9:cpuset:/\n3:name=systemd:/\n0::/\n")
V2 = (f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID.replace('-', '_')}.slice/"
      f"cri-containerd-{CID}.scope\n")


def test_memberships_keep_cpu_memory_pids_and_the_unified_line() -> None:
    found = cgmove.memberships(V1)
    assert [m.hierarchy for m in found] == ["pids", "cpu,cpuacct", "memory", ""]
    assert cgmove.memberships(V2) == [cgmove.Membership("", V2.strip()[3:])]
    assert cgmove.memberships("garbage\n1:cpu\n") == []


def test_directories_under_the_hosts_cgroupfs(tmp_path: pathlib.Path) -> None:
    cpu = cgmove.Membership("cpu,cpuacct", "/kubepods/x")
    assert cpu.directory("/host/sys/fs/cgroup") == pathlib.Path("/host/sys/fs/cgroup/cpu,cpuacct/kubepods/x")
    unified = cgmove.Membership("", "/kubepods.slice/y")
    assert unified.directory(str(tmp_path)) == tmp_path / "unified/kubepods.slice/y"  # hybrid host
    (tmp_path / "cgroup.controllers").write_text("cpu memory")
    assert unified.directory(str(tmp_path)) == tmp_path / "kubepods.slice/y"  # pure v2 host


def fake_proc(root: pathlib.Path, processes: dict[int, tuple[str, str]]) -> str:
    for pid, (cgroup, comm) in processes.items():
        (root / str(pid)).mkdir(parents=True)
        (root / str(pid) / "cgroup").write_text(cgroup)
        (root / str(pid) / "comm").write_text(comm + "\n")
    return str(root)


def test_only_the_target_pods_container_cgroups_are_chosen_and_not_its_pause(tmp_path: pathlib.Path) -> None:
    pause = V1.replace(CID, "cd" * 32)
    root = fake_proc(tmp_path, {40: (pause, "pause"), 41: (V1, "app"), 50: ("0::/system.slice/x\n", "sshd")})
    assert cgmove.target_pid(UID, root) == 41
    chosen = cgmove.target_cgroups(UID, root)
    assert [m.hierarchy for m in chosen] == ["pids", "cpu,cpuacct", "memory"]  # never cpuset or the root "/"
    assert all(CID in m.path for m in chosen)


def test_a_pod_without_container_cgroups_or_processes_is_refused(tmp_path: pathlib.Path) -> None:
    root = fake_proc(tmp_path, {41: (f"1:pids:/kubepods/pod{UID}\n", "app")})  # no container segment
    with pytest.raises(procfs.TargetNotFound):
        cgmove.target_cgroups(UID, root)
    with pytest.raises(procfs.TargetNotFound):
        cgmove.target_cgroups("11111111-2222-4333-8444-555555555555", root)
