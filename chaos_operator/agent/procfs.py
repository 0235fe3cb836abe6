"""Find a pod's processes by pod UID from `<proc root>/*/cgroup` (cgroup v1 and v2).

Pure parsing of cgroup paths plus one function that walks a given proc root. Path shapes:
  systemd driver  /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
  cgroupfs driver /kubepods/burstable/pod<uid>/<id>   (besteffort too; guaranteed has no QoS level)
  CRI-O           .../crio-<id>.scope (crio-conmon-<id>.scope is the monitor, on the host network: excluded)
  docker          .../docker-<id>.scope or /kubepods/.../pod<uid>/<id>
Nested prefixes (kind: /docker/<id>/kubepods/..., kubelet-kubepods-... slices) and the `..`
segments seen from another cgroup namespace are tolerated: segments are scanned, not anchored,
and the UID match is exact, so no "kubepods" ancestor is required.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
UUID_UNDERSCORED = r"[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}"
STATIC_UID = r"[0-9a-f]{32}"  # static/mirror pods carry a hash, not a UUID
POD_UID_RE = re.compile(rf"^(?:{UUID}|{STATIC_UID})$")
CGROUPFS_POD_RE = re.compile(rf"^pod(?P<uid>{UUID}|{STATIC_UID})$")
SYSTEMD_POD_RE = re.compile(
    rf"^(?:[a-z0-9_]+-)*kubepods(?:-burstable|-besteffort)?-pod(?P<uid>{UUID_UNDERSCORED}|{STATIC_UID})\.slice$"
)
CONTAINER_RE = re.compile(r"^(?:(?:cri-containerd|crio|docker)-)?[0-9a-f]{64}(?:\.scope)?$")


def pod_uid(text: str) -> str:
    """Validate a Kubernetes pod UID (lowercase UUID, or a static pod's 32-hex hash)."""
    if not isinstance(text, str) or not POD_UID_RE.fullmatch(text):
        raise ValueError(f"pod UID {text!r} is not a lowercase UUID like 1f2e3d4c-...")
    return text


def pod_uid_of_path(path: str) -> str | None:
    """The pod UID (dashed form) of a *container* cgroup path, or None.

    A container segment must follow the pod segment: processes directly in the pod cgroup
    (e.g. CRI-O's conmon with conmon_cgroup=pod) and `crio-conmon-*` scopes are not containers.
    """
    segments = [s for s in path.split("/") if s and s not in {".", ".."}]
    for i, segment in enumerate(segments):
        if match := CGROUPFS_POD_RE.fullmatch(segment):
            uid = match.group("uid")
        elif match := SYSTEMD_POD_RE.fullmatch(segment):
            uid = match.group("uid").replace("_", "-")
        else:
            continue
        container = segments[i + 1] if i + 1 < len(segments) else ""
        return uid if CONTAINER_RE.fullmatch(container) else None
    return None


def pod_uid_of_cgroup(text: str) -> str | None:
    """The pod UID of a `/proc/PID/cgroup` file: v1 `N:ctrl:path` and v2 `0::path` lines.

    Lines that disagree (one says pod A, another pod B) make the answer None: never guess.
    """
    found: set[str] = set()
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        uid = pod_uid_of_path(parts[2])
        if uid:
            found.add(uid)
    return found.pop() if len(found) == 1 else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:  # the process exited, or we may not look: skip it
        return None


def netns_of(proc_root: str, pid: int) -> str | None:
    try:
        return os.readlink(f"{proc_root}/{pid}/ns/net")
    except OSError:
        return None


def pod_pids(uid: str, proc_root: str = "/proc") -> list[int]:
    """PIDs under `proc_root` whose cgroup belongs to a container of the pod `uid`."""
    wanted = pod_uid(uid)
    try:
        names = os.listdir(proc_root)
    except OSError:
        return []
    pids = []
    for name in names:
        if not name.isdigit():
            continue
        text = _read(f"{proc_root}/{name}/cgroup")
        if text is not None and pod_uid_of_cgroup(text) == wanted:
            pids.append(int(name))
    return sorted(pids)


@dataclass(frozen=True)
class Target:
    pid: int
    netns: str  # e.g. "net:[4026532281]"


class TargetNotFound(Exception):
    pass


def find_target(uid: str, proc_root: str = "/proc") -> Target:
    """One process of the pod in the pod's own network namespace.

    The pause (sandbox) process is preferred: it lives as long as the pod network does, while
    an app container may restart mid-fault. A pod on the host network is refused, because
    shaping its interfaces would shape the whole node.
    """
    pids = pod_pids(uid, proc_root)
    if not pids:
        raise TargetNotFound(f"no process of pod {uid} under {proc_root}")
    # The host's namespace is PID 1's; where that is unreadable (no ptrace access), our own is
    # the best stand-in: the agent never wants to shape the namespace it runs in either.
    host = netns_of(proc_root, 1) or netns_of("/proc", os.getpid())
    candidates = []
    for pid in pids:
        netns = netns_of(proc_root, pid)
        if netns is not None and netns != host:
            comm = (_read(f"{proc_root}/{pid}/comm") or "").strip()
            candidates.append((comm != "pause", pid, netns))
    if not candidates:
        if any(netns_of(proc_root, pid) == host for pid in pids) and host is not None:
            raise TargetNotFound(f"pod {uid} shares the host network namespace; refusing to shape the node")
        raise TargetNotFound(f"cannot read the network namespace of any process of pod {uid}")
    _, pid, netns = min(candidates)
    return Target(pid, netns)
