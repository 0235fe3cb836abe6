"""A demo pod's CPU and memory limits, enforced in the cgroup v1 `cpu` and `memory` hierarchies (opt-in by limits).

A pod whose container declares `resources.limits.cpu` (and/or `memory`) also gets its container cgroup in the v1
`cpu` (and `memory`) hierarchy, at the same kubelet-shaped path as in `pids` (`csbx-TOKEN/kubepods/burstable/
pod<UID>/<id>`), with `cpu.cfs_quota_us` over a 100 ms `cpu.cfs_period_us` and `memory.limit_in_bytes`, as a
kubelet with the cgroupfs driver writes them. Each tree is made below the sandbox process's own cgroup in that
hierarchy, so the limit that bounds this machine's work still bounds the pods. A pod without limits gets neither,
and runs as before. Where cpu and memory are on cgroup2 instead (the kernel VM tier's guest), the same path is made
there (`unified`), with `+cpu +memory` enabled on the way down, `cpu.max` and `memory.max`; that needs the
sandbox's own cgroup to give both controllers to its children already. Elsewhere limits are not enforced.
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass
from typing import Any

PERIOD_US = 100_000
HIERARCHIES = {"cpu": "cpu.cfs_quota_us", "memory": "memory.limit_in_bytes"}
CPU_RE = re.compile(r"^(?P<n>[0-9]+(?:\.[0-9]{1,3})?)(?P<m>m?)$")
MEMORY_RE = re.compile(r"^(?P<n>[0-9]+)(?P<u>Ki|Mi|Gi|K|M|G)?$")
UNITS = {None: 1, "K": 1000, "M": 1000**2, "G": 1000**3, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
MIN_MEMORY = 4 * 1024**2  # a smaller limit would only kill the demo process at start


@dataclass(frozen=True)
class Limits:
    cpu_quota_us: int | None = None  # per PERIOD_US
    memory_bytes: int | None = None

    @property
    def any(self) -> bool:
        return self.cpu_quota_us is not None or self.memory_bytes is not None

    def files(self) -> dict[str, dict[str, str]]:
        """hierarchy -> {file: value} to write."""
        out: dict[str, dict[str, str]] = {}
        if self.cpu_quota_us is not None:
            out["cpu"] = {"cpu.cfs_period_us": str(PERIOD_US), "cpu.cfs_quota_us": str(self.cpu_quota_us)}
        if self.memory_bytes is not None:
            out["memory"] = {"memory.limit_in_bytes": str(self.memory_bytes)}
        return out

    def unified_files(self) -> dict[str, str]:
        """The same limits as cgroup v2 writes them."""
        out = {}
        if self.cpu_quota_us is not None:
            out["cpu.max"] = f"{self.cpu_quota_us} {PERIOD_US}"
        if self.memory_bytes is not None:
            out["memory.max"] = str(self.memory_bytes)
        return out


def cpu_quota_us(text: str) -> int:
    match = CPU_RE.fullmatch(text)
    if not match:
        raise ValueError(f"cpu limit {text!r} is not like 500m or 0.5")
    cores = float(match["n"]) / (1000 if match["m"] else 1)
    return max(1000, round(cores * PERIOD_US))  # the kernel's minimum quota is 1 ms


def memory_bytes(text: str) -> int:
    match = MEMORY_RE.fullmatch(text)
    if not match:
        raise ValueError(f"memory limit {text!r} is not like 64Mi")
    return max(MIN_MEMORY, int(match["n"]) * UNITS[match["u"]])


def of_pod(pod: dict[str, Any]) -> Limits:
    """The first container's limits (demo pods have one container)."""
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    limits = ((containers[0].get("resources") or {}).get("limits") or {})
    cpu, memory = limits.get("cpu"), limits.get("memory")
    return Limits(cpu_quota_us(str(cpu)) if cpu is not None else None,
                  memory_bytes(str(memory)) if memory is not None else None)


def bases(mounts: str | None = None, own: str | None = None) -> dict[str, pathlib.Path]:
    """hierarchy -> this process's own cgroup directory in it, for the v1 cpu and memory hierarchies mounted; or
    "unified" -> that directory on cgroup2, where neither is v1 and it gives cpu and memory to its children."""
    mounts = mounts if mounts is not None else pathlib.Path("/proc/self/mounts").read_text()
    own = own if own is not None else pathlib.Path("/proc/self/cgroup").read_text()
    paths = {}
    for line in own.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                paths[controller] = parts[2]  # "" is the cgroup2 line
    found: dict[str, pathlib.Path] = {}
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "cgroup2" and "unified" not in found and "" in paths:
            found["unified"] = pathlib.Path(fields[1]) / paths[""].lstrip("/")
        if len(fields) >= 4 and fields[2] == "cgroup":
            for name in HIERARCHIES:
                if name in fields[3].split(",") and name not in found and name in paths:
                    found[name] = pathlib.Path(fields[1]) / paths[name].lstrip("/")
    v1 = {name: base for name, base in found.items() if name in HIERARCHIES and (base / HIERARCHIES[name]).exists()}
    v2 = found.get("unified")
    if v1 or v2 is None:
        return v1
    try:
        given = set((v2 / "cgroup.subtree_control").read_text().split())
    except OSError:
        return {}
    return {"unified": v2} if {"cpu", "memory"} <= given else {}
