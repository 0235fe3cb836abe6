"""Fixtures for the agent's kernel tests (root only; they skip with the reason otherwise)."""

from __future__ import annotations

import secrets
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.agent.kernel import CGROUP_ROOT, Cgroup, NetPair, Procs, kernel_skip_reason


@pytest.fixture
def kernel() -> None:
    reason = kernel_skip_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def procs() -> Iterator[Procs]:
    tracked = Procs()
    try:
        yield tracked
    finally:
        tracked.close()


@pytest.fixture
def netpair(kernel: None) -> Iterator[NetPair]:
    pair = NetPair.create()
    try:
        yield pair
    finally:
        pair.destroy()


@dataclass
class FakePod:
    uid: str
    pid: int
    cgroup: Cgroup


def pod_cgroup(uid: str) -> Cgroup:
    """The cgroupfs-driver shape in the v1 pids hierarchy, or the systemd shape on cgroup v2."""
    cid = secrets.token_hex(32)
    if (CGROUP_ROOT / "pids" / "cgroup.procs").exists():
        return Cgroup(CGROUP_ROOT / "pids", ["kubepods", "burstable", f"pod{uid}", cid])
    v2 = CGROUP_ROOT / "unified" if (CGROUP_ROOT / "unified" / "cgroup.procs").exists() else CGROUP_ROOT
    under = uid.replace("-", "_")
    return Cgroup(v2, ["kubepods.slice", "kubepods-burstable.slice", f"kubepods-burstable-pod{under}.slice",
                       f"cri-containerd-{cid}.scope"])


@pytest.fixture
def fake_pod(netpair: NetPair) -> Iterator[FakePod]:
    """A `sleep` in namespace A and in a cgroup named with a fresh pod UID: a stand-in container."""
    uid = str(uuid.uuid4())
    cgroup = pod_cgroup(uid)
    # nsenter execs sleep in place, so the Popen pid is the "container" process itself.
    proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{netpair.ns_a}", "sleep", "300"])
    try:
        cgroup.create().add(proc.pid)
        yield FakePod(uid, proc.pid, cgroup)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        cgroup.remove()
