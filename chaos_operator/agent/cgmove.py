"""Run a command inside another pod's container cgroups: start it stopped, move it there, then let it run.

The child forks, leads its own process group, asks for SIGKILL should the agent die (PR_SET_PDEATHSIG), and
SIGSTOPs itself before exec. The agent writes its PID into the target container's `cgroup.procs` (v1: each of
the cpu, cpuacct, memory and pids hierarchies; v2: the unified one), checks `/proc/PID/cgroup`, and only then
sends SIGCONT. So the command and every process it forks are charged to the target's own CPU quota and memory
limit, and nothing it allocated before the move is charged elsewhere (it had allocated nothing).

The PID written is the child's in the agent's own PID namespace, which is how `cgroup.procs` reads it: the agent
needs no hostPID. The target's paths come from the host's `/proc/<target pid>/cgroup`; on cgroup v2 with a
private cgroup namespace they are relative to ours (`/../..`) and the kernel refuses a move outside it, so the
agent first joins the host's cgroup namespace (`setns`, CAP_SYS_ADMIN; opening PID 1's namespace needs
CAP_SYS_PTRACE). Only cgroups that are containers of the target pod (by UID, as `procfs` reads paths) are joined.
"""

from __future__ import annotations

import ctypes
import os
import pathlib
import signal
import subprocess
import time
from dataclasses import dataclass

from chaos_operator.agent import procfs

V1_CONTROLLERS = frozenset({"cpu", "cpuacct", "memory", "pids"})
PR_SET_PDEATHSIG = 1
CLONE_NEWCGROUP = 0x02000000  # os.setns is Python 3.12+; libc's setns(2) here
STOP_TIMEOUT_S = 5.0


class MoveFailed(Exception):
    pass


@dataclass(frozen=True)
class Into:
    """Whose cgroups to run in, and where the host's /proc and cgroupfs are mounted."""

    pod_uid: str
    proc_root: str
    cgroup_root: str


@dataclass(frozen=True)
class Membership:
    hierarchy: str  # the second field of /proc/PID/cgroup: "cpu,cpuacct", "memory", … ; "" for cgroup v2
    path: str

    def directory(self, cgroup_root: str) -> pathlib.Path:
        """Where this cgroup is under the host's cgroupfs mounted at `cgroup_root`."""
        root = pathlib.Path(cgroup_root)
        if self.hierarchy:
            base = root / self.hierarchy
        else:  # pure v2 mounts cgroup2 at the root; hybrid hosts at unified/
            base = root if (root / "cgroup.controllers").exists() else root / "unified"
        return base / self.path.lstrip("/")


def memberships(text: str) -> list[Membership]:
    """The lines of a /proc/PID/cgroup file that charge CPU, memory or tasks (and the v2 line)."""
    found = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        if parts[0] == "0" and parts[1] == "":
            found.append(Membership("", parts[2]))
        elif V1_CONTROLLERS & set(parts[1].split(",")):
            found.append(Membership(parts[1], parts[2]))
    return found


def target_pid(uid: str, proc_root: str) -> int:
    """One process of an application container of the pod (the pause process is not one)."""
    pids = procfs.pod_pids(uid, proc_root)
    if not pids:
        raise procfs.TargetNotFound(f"no process of pod {uid} under {proc_root}")
    apps = [pid for pid in pids if _read(f"{proc_root}/{pid}/comm").strip() != "pause"]
    return min(apps or pids)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def enter_host_cgroupns(proc_root: str, needed: bool) -> bool:
    """Join PID 1's cgroup namespace when ours is another; True when we moved. Where PID 1's namespace cannot
    be read (no CAP_SYS_PTRACE) that is an error only when `needed` (the target's paths left our namespace)."""
    try:
        if os.readlink("/proc/self/ns/cgroup") == os.readlink(f"{proc_root}/1/ns/cgroup"):
            return False
        fd = os.open(f"{proc_root}/1/ns/cgroup", os.O_RDONLY)
    except OSError as exc:
        if not needed:
            return False
        raise MoveFailed(f"cannot open the host's cgroup namespace: {exc}") from None
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWCGROUP) != 0:
            raise MoveFailed(f"cannot join the host's cgroup namespace: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)
    return True


def target_cgroups(uid: str, proc_root: str) -> list[Membership]:
    """The target's container cgroups, as absolute paths; MoveFailed when there is none."""
    pid = target_pid(uid, proc_root)
    lines = memberships(_read(f"{proc_root}/{pid}/cgroup"))
    if enter_host_cgroupns(proc_root, needed=any(".." in m.path.split("/") for m in lines)):
        lines = memberships(_read(f"{proc_root}/{pid}/cgroup"))  # rendered from the host's namespace now
    ours = [m for m in lines if procfs.pod_uid_of_path(m.path) == uid and ".." not in m.path.split("/")]
    if not ours:
        raise MoveFailed(f"no container cgroup of pod {uid} in /proc/{pid}/cgroup: {[m.path for m in lines]}")
    return ours


def move(pid: int, cgroups: list[Membership], cgroup_root: str) -> list[str]:
    """Write `pid` into each cgroup and check /proc/PID/cgroup says so; the directories joined."""
    joined = []
    for m in cgroups:
        directory = m.directory(cgroup_root)
        try:
            (directory / "cgroup.procs").write_text(str(pid))
        except OSError as exc:
            raise MoveFailed(f"cannot move pid {pid} into {directory}: {exc}") from None
        joined.append(f"{m.hierarchy or 'unified'}:{m.path}")
    now_in = {(x.hierarchy, x.path) for x in memberships(_read(f"/proc/{pid}/cgroup"))}
    missing = [m.path for m in cgroups if (m.hierarchy, m.path) not in now_in]
    if missing:
        raise MoveFailed(f"pid {pid} is not in {missing} after the move")
    return joined


class Child:
    """A forked process, stopped before its exec: the part of `subprocess.Popen`'s interface the runner uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout if timeout is not None else 3600.0)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def send(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send(signal.SIGTERM)


def spawn_stopped(argv: list[str], cwd: str, output_fd: int) -> Child:
    """Fork; the child leads a new session, dies with us, stops itself, and execs `argv` once continued.
    Returns once it is stopped (MoveFailed if it is not within STOP_TIMEOUT_S)."""
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: only async-signal-safe work, then exec or _exit
        try:
            os.setsid()
            os.dup2(output_fd, 1)
            os.dup2(output_fd, 2)
            os.chdir(cwd)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # the agent died before prctl took effect
                os._exit(127)
            os.kill(os.getpid(), signal.SIGSTOP)
            os.execvp(argv[0], argv)
        except BaseException as exc:  # the child must never return into the agent's code
            os.write(2, f"chaos-agent: cannot exec {argv[0]}: {exc}\n".encode())
        os._exit(127)
    child = Child(pid)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG | os.WUNTRACED)
        if done and os.WIFSTOPPED(status):
            return child
        if done:
            child.returncode = os.waitstatus_to_exitcode(status)
            raise MoveFailed(f"{argv[0]} exited ({child.returncode}) before it could be moved")
        time.sleep(0.005)
    child.send(signal.SIGKILL)
    child.wait(5)
    raise MoveFailed(f"{argv[0]} did not stop within {STOP_TIMEOUT_S}s")
