"""A stand-in for a container with a CPU quota and a memory limit, in test-made cgroups named with a pod UID.

cgroup v1 (this host): the cgroupfs-driver path in the cpu, memory and pids hierarchies, each below this
process's own cgroup there (so the memory limit that bounds this machine's work still bounds it). cgroup v2 (the
kernel VM tier, where cpu and memory are on the unified hierarchy): the systemd-driver path with `+cpu +memory`
enabled on the way down. Every directory made here is removed, and the removal checked.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import signal
import subprocess
import uuid
from dataclasses import dataclass, field

from tests.agent.kernel import CGROUP_ROOT, Cgroup

PERIOD_US = 100_000
V1 = {"cpu": "cpu.cfs_quota_us", "cpuacct": "cpuacct.usage", "memory": "memory.limit_in_bytes", "pids": "cgroup.procs"}


def own_path(controller: str) -> str:
    for line in pathlib.Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return "/"


def v1_ready() -> str | None:
    """None when the v1 cpu, memory and pids hierarchies are here; else why not."""
    for name, probe in V1.items():
        if not (CGROUP_ROOT / name / probe).exists():
            return f"no cgroup v1 {name} hierarchy at {CGROUP_ROOT / name}"
    return None


def v2_root() -> pathlib.Path | None:
    for root in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
        if (root / "cgroup.subtree_control").exists():
            return root
    return None


def v2_ready() -> str | None:
    root = v2_root()
    if root is None:
        return "no cgroup2 mount"
    enabled = set((root / "cgroup.subtree_control").read_text().split())
    if not {"cpu", "memory"} <= enabled:
        return f"cpu and memory are not enabled on cgroup v2 at {root} (they are v1 hierarchies here)"
    return None


@dataclass
class LimitedPod:
    """A `sleep` in its own container cgroups, limited to `cpu_quota` CPUs and `memory` bytes."""

    version: str  # "v1" | "v2"
    cpu_quota: float
    memory: int
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    cgroups: dict[str, Cgroup] = field(default_factory=dict)  # the V1 hierarchies, or "unified" (v2)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> LimitedPod:
        cid = secrets.token_hex(32)
        quota = str(int(self.cpu_quota * PERIOD_US))
        if self.version == "v1":
            for name in V1:
                base = CGROUP_ROOT / name / own_path(name).lstrip("/")
                self.cgroups[name] = Cgroup(base, ["kubepods", "burstable", f"pod{self.uid}", cid]).create()
            self.write("cpu", "cpu.cfs_period_us", str(PERIOD_US))
            self.write("cpu", "cpu.cfs_quota_us", quota)
            self.write("memory", "memory.limit_in_bytes", str(self.memory))
        else:
            root = v2_root()
            assert root is not None
            under = self.uid.replace("-", "_")
            segments = ["kubepods.slice", "kubepods-burstable.slice", f"kubepods-burstable-pod{under}.slice",
                        f"cri-containerd-{cid}.scope"]
            group = Cgroup(root, segments).create()
            self.cgroups["unified"] = group
            for depth in range(1, len(segments)):  # controllers are given down to the leaf
                (root.joinpath(*segments[:depth]) / "cgroup.subtree_control").write_text("+cpu +memory")
            self.write("unified", "cpu.max", f"{quota} {PERIOD_US}")
            self.write("unified", "memory.max", str(self.memory))
            self.write("unified", "memory.swap.max", "0")
        self.proc = subprocess.Popen(["sleep", "300"])
        for group in self.cgroups.values():
            group.add(self.proc.pid)
        return self

    def write(self, which: str, name: str, value: str) -> None:
        (self.cgroups[which].path / name).write_text(value)

    def read(self, which: str, name: str) -> str:
        return (self.cgroups[which].path / name).read_text()

    @property
    def cpu_group(self) -> str:
        return "cpu" if self.version == "v1" else "unified"

    @property
    def memory_group(self) -> str:
        return "memory" if self.version == "v1" else "unified"

    def throttling(self) -> tuple[int, float, float]:
        """(periods throttled, seconds throttled, CPU seconds used) so far."""
        stat = dict(line.split() for line in self.read(self.cpu_group, "cpu.stat").splitlines())
        if self.version == "v1":
            used = int(self.read("cpuacct", "cpuacct.usage")) / 1e9
            return int(stat["nr_throttled"]), int(stat["throttled_time"]) / 1e9, used
        return int(stat["nr_throttled"]), int(stat["throttled_usec"]) / 1e6, int(stat["usage_usec"]) / 1e6

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == "v1" else "memory.events"
        fields = dict(line.split() for line in self.read(self.memory_group, name).splitlines())
        return int(fields.get("oom_kill", 0))

    def procs(self) -> list[int]:
        return [int(p) for p in self.read(self.cpu_group, "cgroup.procs").split()]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for group in self.cgroups.values():
            if group.path.exists():
                for pid in (group.path / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)  # anything a failed test left in the target
                    except ProcessLookupError:
                        pass
            group.remove()
