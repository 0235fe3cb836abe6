"""Real cgroups for the sandbox's pod processes (root only), named the way a kubelet names them.

Every process-backed pod gets a container cgroup `csbx-TOKEN/kubepods/besteffort/pod<UID>/<64-hex id>`:
the path a kubelet with the cgroupfs driver makes on a cgroup v1 host, below one directory per sandbox run,
the way a kubelet inside a container node (kind) nests its tree below the node's own cgroup. So the agent
finds a pod's processes by its UID in `/proc/PID/cgroup` exactly as it does on a node (`agent/procfs.py`).

Which hierarchy: the v1 `pids` hierarchy when mounted, else the cgroup2 mount. `pids` charges nothing a
process would notice (no CPU or memory accounting that could change how a pod runs, and moving a process
there never takes it out of the memory cgroup that bounds this machine's sandbox), and its `pids.max` bounds
the tasks of each pod. A process joins its cgroup before it executes anything (`cgexec.py`), so nothing it
starts can escape. When a pod's main process is gone, whatever is left in its cgroup is SIGKILLed (as a
runtime does with a container's processes) and the directories are removed; a run's whole tree goes when it
stops, and `leftovers.py` removes the trees of runs that died.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import secrets
import signal
import time
from dataclasses import dataclass, field

from chaos_sandbox.node.limits import Limits

PREFIX = "csbx-"
QOS = ("kubepods", "besteffort")
LIMITED_QOS = ("kubepods", "burstable")  # a pod with limits is not BestEffort
PODS_MAX = "512"  # tasks (threads count) per pod: python, tc, nsenter, stress-ng workers
EMPTY_TIMEOUT_S = 5.0


def hierarchy(mounts: str | None = None) -> pathlib.Path | None:
    """The mount point of the v1 `pids` hierarchy, else of cgroup2, from /proc/self/mounts; None without either."""
    if mounts is None:
        try:
            mounts = pathlib.Path("/proc/self/mounts").read_text()
        except OSError:
            return None
    v2 = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        if fields[2] == "cgroup" and "pids" in fields[3].split(","):
            return pathlib.Path(fields[1])
        if fields[2] == "cgroup2" and v2 is None:
            v2 = pathlib.Path(fields[1])
    return v2


def supported() -> tuple[bool, str]:
    """Whether pod processes can get their own cgroups here, and why not."""
    if os.geteuid() != 0:
        return False, "not running as root"
    base = hierarchy()
    if base is None:
        return False, "no cgroup v1 pids hierarchy and no cgroup2 mount"
    if not os.access(base, os.W_OK):
        return False, f"{base} is not writable"
    return True, ""


def procs(path: pathlib.Path) -> list[int]:
    """Every process in the cgroup `path` and below it (the pids in each cgroup.procs)."""
    found: list[int] = []
    for directory, _, files in os.walk(path):
        if "cgroup.procs" in files:
            try:
                text = (pathlib.Path(directory) / "cgroup.procs").read_text()
            except OSError:
                continue
            found += [int(word) for word in text.split()]
    return sorted(set(found))


def kill_all(path: pathlib.Path) -> None:
    for pid in procs(path):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def rmdir_tree(path: pathlib.Path) -> bool:
    """Remove the empty cgroup directories of `path`, deepest first. True when `path` is gone."""
    if not path.exists():
        return True
    for directory, _, _ in sorted(os.walk(path), key=lambda entry: -len(entry[0])):
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            pass
        except OSError:
            return False
    return not path.exists()


def _kill_and_remove(path: pathlib.Path) -> bool:
    """One attempt: SIGKILL what is left in `path`, then remove it once empty."""
    kill_all(path)
    return not procs(path) and rmdir_tree(path)


def remove_tree_sync(path: pathlib.Path, timeout: float = EMPTY_TIMEOUT_S) -> bool:
    """SIGKILL everything in `path`, wait (bounded) until it is empty, remove it. For the leftovers sweep."""
    deadline = time.monotonic() + timeout
    while not _kill_and_remove(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


async def remove_tree(path: pathlib.Path, timeout: float = EMPTY_TIMEOUT_S) -> bool:
    """`remove_tree_sync` for the sandbox's event loop."""
    deadline = time.monotonic() + timeout
    while not _kill_and_remove(path):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def run_roots(base: pathlib.Path | None = None) -> list[tuple[str, pathlib.Path]]:
    """(token, directory) of every sandbox run's cgroup tree, live or not."""
    base = base or hierarchy()
    if base is None or not base.is_dir():
        return []
    return sorted((entry.name[len(PREFIX):], entry) for entry in base.iterdir()
                  if entry.is_dir() and entry.name.startswith(PREFIX) and "-" not in entry.name[len(PREFIX):])


@dataclass
class RunCgroups:
    """One sandbox run's cgroup tree."""

    token: str
    base: pathlib.Path
    # v1 cpu/memory, or cgroup2 ("unified") where they are there: the sandbox's own cgroup in each
    limited: dict[str, pathlib.Path] = field(default_factory=dict)

    @property
    def root(self) -> pathlib.Path:
        return self.base / f"{PREFIX}{self.token}"

    def roots(self) -> list[pathlib.Path]:
        """The run's tree in every hierarchy it uses."""
        return [self.root, *(base / f"{PREFIX}{self.token}" for base in self.limited.values())]

    def open(self) -> None:
        self.root.joinpath(*QOS).mkdir(parents=True, exist_ok=True)

    def container(self, pod_uid: str, limits: Limits | None = None) -> list[pathlib.Path]:
        """New container cgroups of pod `pod_uid` (a fresh container ID, as each container start gets): the one in
        `pids` first, then one in `cpu`/`memory` for each limit the pod declares, with that limit written."""
        files = limits.files() if limits is not None else {}
        qos = LIMITED_QOS if limits is not None and limits.any else QOS
        pod = self.root.joinpath(*qos, f"pod{pod_uid}")
        pod.mkdir(parents=True, exist_ok=True)
        limit = pod / "pids.max"
        if limit.exists():
            limit.write_text(PODS_MAX)
        path = pod / secrets.token_hex(32)
        path.mkdir()
        made = [path]
        for name, values in files.items():
            if name in self.limited:
                other = self.limited[name] / path.relative_to(self.base)
                other.mkdir(parents=True)
                for file, value in values.items():
                    (other / file).write_text(value)
                made.append(other)
        if "unified" in self.limited and limits is not None and limits.any:
            made.append(self._unified(path.relative_to(self.base), limits))
        return made

    def _unified(self, relative: pathlib.Path, limits: Limits) -> pathlib.Path:
        """The container cgroup on cgroup2: cpu and memory given to the children at every level made."""
        current = self.limited["unified"]
        for part in relative.parts:
            if current != self.limited["unified"]:  # the sandbox's own cgroup gives them already
                (current / "cgroup.subtree_control").write_text("+cpu +memory")
            current = current / part
            current.mkdir(exist_ok=True)
        for file, value in limits.unified_files().items():
            (current / file).write_text(value)
        return current

    async def remove_pod(self, container: pathlib.Path) -> bool:
        """Kill what is left in a container's cgroups (every hierarchy) and remove them, and the pod's directories
        once empty."""
        done = True
        for base in (self.base, *self.limited.values()):
            path = base / container.relative_to(self.base)
            if base is not self.base and not path.exists():
                continue
            if await remove_tree(path):
                try:
                    os.rmdir(path.parent)
                except OSError:
                    pass  # another container of the pod is still there
            else:
                done = False
        return done

    async def close(self) -> bool:
        results = [await remove_tree(root) for root in self.roots()]
        return all(results)
