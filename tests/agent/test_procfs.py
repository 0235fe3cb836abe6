"""Finding a pod's process by UID on synthetic /proc trees, for every runtime and cgroup shape."""

from __future__ import annotations

import os
import pathlib

import pytest

from chaos_operator.agent import procfs

UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
UID_ = UID.replace("-", "_")
OTHER = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f1"  # differs in the last digit
CID = "3f" * 32
KIND = "9a" * 32
SLICE = f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice"
HOST_NET = "net:[4026531840]"
POD_NET = "net:[4026532281]"

# (cgroup path, expected UID) for every supported shape, and near misses that must not match.
SHAPES = {
    "containerd-systemd-burstable": (f"{SLICE}/cri-containerd-{CID}.scope", UID),
    "containerd-systemd-besteffort": (
        f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/cri-containerd-{CID}.scope",
        UID),
    "containerd-systemd-guaranteed": (f"/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{CID}.scope", UID),
    "cgroupfs-burstable": (f"/kubepods/burstable/pod{UID}/{CID}", UID),
    "cgroupfs-besteffort": (f"/kubepods/besteffort/pod{UID}/{CID}", UID),
    "cgroupfs-guaranteed": (f"/kubepods/pod{UID}/{CID}", UID),
    "crio-systemd": (f"{SLICE}/crio-{CID}.scope", UID),
    "crio-cgroupfs": (f"/kubepods/burstable/pod{UID}/crio-{CID}", UID),
    "docker-systemd": (f"{SLICE}/docker-{CID}.scope", UID),
    "docker-cgroupfs": (f"/kubepods/besteffort/pod{UID}/{CID}", UID),
    "kind-docker-cgroupfs": (f"/docker/{KIND}/kubepods/burstable/pod{UID}/{CID}", UID),
    "kind-systemd-kubelet-slices": (
        f"/system.slice/docker-{KIND}.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
        f"kubelet-kubepods-besteffort-pod{UID_}.slice/cri-containerd-{CID}.scope", UID),
    "seen-from-another-cgroupns": (f"/../../kubepods-burstable-pod{UID_}.slice/cri-containerd-{CID}.scope", UID),
    "nested-cgroup-in-container": (
        f"/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{CID}.scope/init.scope", UID),
    "static-pod-hash": (f"/kubepods/burstable/pod{'ab' * 16}/{CID}", "ab" * 16),
    # Near misses.
    "crio-conmon": (f"{SLICE}/crio-conmon-{CID}.scope", None),
    "pod-level-only": (f"/kubepods/burstable/pod{UID}", None),
    "pod-level-trailing-slash": (f"/kubepods/burstable/pod{UID}/", None),
    "short-container-id": (f"/kubepods/burstable/pod{UID}/{CID[:63]}", None),
    "uid-with-suffix": (f"/kubepods/burstable/pod{UID}0/{CID}", None),
    "uid-truncated": (f"/kubepods/burstable/pod{UID[:-1]}/{CID}", None),
    "uid-in-longer-name": (f"/kubepods/burstable/xpod{UID}/{CID}", None),
    "uppercase-uid": (f"/kubepods/burstable/pod{UID.upper()}/{CID}", None),
    "systemd-with-dashes": (f"/kubepods.slice/kubepods-burstable-pod{UID}.slice/cri-containerd-{CID}.scope", None),
    "cgroupfs-with-underscores": (f"/kubepods/burstable/pod{UID_}/{CID}", None),
    "not-a-slice": (f"/kubepods.slice/kubepods-burstable-pod{UID_}/cri-containerd-{CID}.scope", None),
    "plain-docker": (f"/docker/{CID}", None),
    "systemd-service": ("/system.slice/containerd.service", None),
    "root": ("/", None),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_uid_of_path(name: str) -> None:
    path, expected = SHAPES[name]
    assert procfs.pod_uid_of_path(path) == expected


def v1_file(path: str) -> str:
    return "\n".join([
        f"12:pids:{path}", f"11:memory:{path}", f"10:cpu,cpuacct:{path}", "9:rdma:/",
        f"1:name=systemd:{path}", "0::/", "",
    ])


def test_uid_of_cgroup_file_v1_v2_and_hybrid() -> None:
    path = SHAPES["cgroupfs-burstable"][0]
    assert procfs.pod_uid_of_cgroup(v1_file(path)) == UID
    assert procfs.pod_uid_of_cgroup(f"0::{SHAPES['containerd-systemd-burstable'][0]}\n") == UID
    assert procfs.pod_uid_of_cgroup("garbage\n\n1:x\nz:pids:/\n" + v1_file(path)) == UID
    # Lines that name two different pods: never guess.
    other = f"/kubepods/burstable/pod{OTHER}/{CID}"
    assert procfs.pod_uid_of_cgroup(f"12:pids:{path}\n0::{other}\n") is None
    assert procfs.pod_uid_of_cgroup("") is None


@pytest.mark.parametrize("uid", [UID, "ab" * 16])
def test_pod_uid_accepted(uid: str) -> None:
    assert procfs.pod_uid(uid) == uid


@pytest.mark.parametrize("uid", ["", UID.upper(), UID_, UID + "0", UID[:-1], f" {UID}", f"{UID}\n", "$(id)"])
def test_pod_uid_refused(uid: str) -> None:
    with pytest.raises(ValueError):
        procfs.pod_uid(uid)


def make_proc(root: pathlib.Path, processes: dict[int, tuple[str, str | None, str]]) -> str:
    """A /proc look-alike: <pid>/cgroup, <pid>/comm and a <pid>/ns/net link like the kernel's."""
    for pid, (cgroup, netns, comm) in processes.items():
        base = root / str(pid)
        (base / "ns").mkdir(parents=True)
        (base / "cgroup").write_text(cgroup)
        (base / "comm").write_text(comm + "\n")
        if netns is not None:
            os.symlink(netns, base / "ns" / "net")
    (root / "self").mkdir()  # non-numeric entries are ignored
    (root / "net").mkdir()
    return str(root)


def host_process(pid: int = 1) -> dict[int, tuple[str, str | None, str]]:
    return {pid: ("0::/init.scope\n", HOST_NET, "systemd")}


@pytest.mark.parametrize("name", [n for n, (_, uid) in SHAPES.items() if uid == UID])
def test_find_target_every_shape(tmp_path: pathlib.Path, name: str) -> None:
    path = SHAPES[name][0]
    procs = host_process() | {
        300: (f"0::{path}\n", POD_NET, "app"),
        400: (f"0::/kubepods/burstable/pod{OTHER}/{CID}\n", "net:[999]", "other"),
        500: (f"0::{path.replace(UID_, OTHER.replace('-', '_')).replace(UID, OTHER)}\n", "net:[998]", "other"),
    }
    root = make_proc(tmp_path, procs)
    assert procfs.pod_pids(UID, root) == [300]
    assert procfs.find_target(UID, root) == procfs.Target(300, POD_NET)


def test_find_target_prefers_pause_and_skips_host_netns(tmp_path: pathlib.Path) -> None:
    path = SHAPES["crio-systemd"][0]
    conmon = SHAPES["crio-conmon"][0]
    root = make_proc(tmp_path, host_process() | {
        90: (f"0::{conmon}\n", HOST_NET, "conmon"),  # excluded by shape
        120: (f"0::{path}\n", HOST_NET, "odd"),  # in the pod cgroup yet on the host network: skipped
        150: (f"0::{path}\n", POD_NET, "app"),
        210: (f"0::{path}\n", POD_NET, "pause"),
        220: (f"0::{path}\n", None, "exited"),  # ns link gone (process exiting)
    })
    assert procfs.pod_pids(UID, root) == [120, 150, 210, 220]
    assert procfs.find_target(UID, root) == procfs.Target(210, POD_NET)


def test_find_target_lowest_pid_without_pause(tmp_path: pathlib.Path) -> None:
    path = SHAPES["cgroupfs-guaranteed"][0]
    root = make_proc(tmp_path, host_process() | {
        700: (v1_file(path), POD_NET, "app"), 650: (v1_file(path), POD_NET, "sidecar"),
    })
    assert procfs.find_target(UID, root).pid == 650


def test_host_network_pod_is_refused(tmp_path: pathlib.Path) -> None:
    path = SHAPES["cgroupfs-burstable"][0]
    root = make_proc(tmp_path, host_process() | {300: (v1_file(path), HOST_NET, "app")})
    with pytest.raises(procfs.TargetNotFound, match="host network"):
        procfs.find_target(UID, root)


def test_not_found_cases(tmp_path: pathlib.Path) -> None:
    root = make_proc(tmp_path / "a", host_process() | {300: (v1_file(SHAPES["crio-conmon"][0]), POD_NET, "x")})
    with pytest.raises(procfs.TargetNotFound, match="no process"):
        procfs.find_target(UID, root)
    with pytest.raises(procfs.TargetNotFound, match="no process"):
        procfs.find_target(UID, str(tmp_path / "missing"))
    no_link = {300: (v1_file(SHAPES["cgroupfs-burstable"][0]), None, "x")}
    unreadable = make_proc(tmp_path / "b", host_process() | no_link)
    with pytest.raises(procfs.TargetNotFound, match="cannot read"):
        procfs.find_target(UID, unreadable)
    with pytest.raises(ValueError):
        procfs.find_target(UID.upper(), root)


def test_vanished_process_is_skipped(tmp_path: pathlib.Path) -> None:
    root = make_proc(tmp_path, host_process() | {300: (v1_file(SHAPES["cgroupfs-burstable"][0]), POD_NET, "app")})
    (tmp_path / "301").mkdir()  # a process that exited between listdir and open: no cgroup file
    assert procfs.pod_pids(UID, root) == [300]
