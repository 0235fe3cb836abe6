"""One sandbox pod's process: start it (in the pod's network namespace, or on loopback), probe it, stop it.

Stopping follows the kubelet: SIGTERM, up to the grace period for the process to exit, then SIGKILL.
Processes run in their own session, so a Ctrl-C in the terminal reaches the sandbox (which stops them in
order) and not them directly. As root, each process joins its pod's cgroup (`cgroups.py`) through
`cgexec` before it executes anything.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import socket
import ssl
import struct
import subprocess
import sys
from collections.abc import Sequence

from chaos_sandbox.node.podnet import PodNet

START_TIMEOUT_S = 20.0
KILL_WAIT_S = 5.0


def abort_socket(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0): no FIN_WAIT or TIME_WAIT state outlives a pod's network."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


def _probe_tls() -> ssl.SSLContext:
    # A kubelet's HTTPS probe does not verify the pod's certificate.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def http_status(host: str, port: int, path: str, timeout: float = 1.0, tls: bool = False) -> int | None:
    """The status code of `GET path` (over TLS when `tls`), or None when there is no answer in time. The caller
    checks the route."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=_probe_tls() if tls else None)
            try:
                writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
                line = await reader.readline()
            finally:
                abort_socket(writer)
    except (OSError, TimeoutError):
        return None
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


def in_cgroup(cgroup: pathlib.Path | None, argv: list[str], cpus: frozenset[int] | None = None,
              also: Sequence[pathlib.Path] = ()) -> list[str]:
    """`argv`, started inside `cgroup` (and the cgroups `also`, other hierarchies) when given (the pid stays the
    same: cgexec execs argv), on `cpus` if given."""
    if cgroup is None:
        return argv
    pin = ["--cpus", ",".join(map(str, sorted(cpus)))] if cpus else []
    return [sys.executable, "-m", "chaos_sandbox.node.cgexec", *pin, ":".join(map(str, [cgroup, *also])), *argv]


async def stop_process(proc: asyncio.subprocess.Process | None, grace_s: float) -> str:
    """SIGTERM, wait up to `grace_s`, then SIGKILL; says which ended it."""
    if proc is None or proc.returncode is not None:
        return "already exited"
    how = "exited on SIGTERM"
    if grace_s > 0:
        proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace_s):
                await proc.wait()
        except TimeoutError:
            how = f"SIGKILLed after the {grace_s:g}s grace period"
    else:
        how = "SIGKILLed (grace period 0)"
    if proc.returncode is None:
        proc.kill()
        async with asyncio.timeout(KILL_WAIT_S):
            await proc.wait()
    return how


MESSAGE_LIMIT = 4096  # bytes of a termination message the kubelet keeps
LOG_TAIL_LINES = 80  # FallbackToLogsOnError: the kubelet's tail of the log


def log_tail(log_path: pathlib.Path | None) -> str:
    """What FallbackToLogsOnError puts into `state.terminated.message`: the log's last lines, at most 4096 bytes."""
    if log_path is None:
        return ""
    try:
        lines = log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    except OSError:
        return ""
    return "\n".join(lines)[-MESSAGE_LIMIT:]


def exit_code_of(returncode: int) -> int:
    """A container's exit code: 128 + the signal for a process ended by one."""
    return 128 - returncode if returncode < 0 else returncode


class LocalProcess:
    """A pod's local process with stdout and stderr in the pod's log: what agent and command pods share.
    Subclasses set `argv`, `log_path` and `plan.files` (the working directory) and say how to `prepare`."""

    argv: list[str]
    log_path: pathlib.Path | None
    proc: asyncio.subprocess.Process | None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def spawn(self, env: dict[str, str], cwd: pathlib.Path) -> None:
        log = self.log_path.open("ab") if self.log_path else None
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=subprocess.DEVNULL, stdout=log or subprocess.DEVNULL,
                stderr=log or subprocess.DEVNULL, start_new_session=True, env=env, cwd=str(cwd))
        finally:
            if log:
                log.close()

    async def wait(self) -> int:
        assert self.proc is not None
        return await self.proc.wait()

    async def stop(self, grace_s: float) -> str:
        return await stop_process(self.proc, grace_s)

    @property
    def exit_code(self) -> int | None:
        code = self.proc.returncode if self.proc else None
        return None if code is None else exit_code_of(code)


class PodProcess(LocalProcess):
    """A demo pod's process: its stdout is the pipe it reports its address on, its stderr the pod's log."""

    def __init__(self, knobs: Sequence[str], *, pod: str, token: str, net: PodNet | None, port: int,
                 max_seconds: float, log_path: pathlib.Path | None = None,
                 cgroup: pathlib.Path | None = None, cpus: frozenset[int] | None = None,
                 also: Sequence[pathlib.Path] = ()) -> None:
        host = net.pod_ip if net else "127.0.0.1"
        app = [sys.executable, "-m", "chaos_sandbox.demo_app", *knobs, "--host", host,
               "--port", str(port if net else 0), "--pod", pod, "--run", token, "--max-seconds", f"{max_seconds:g}",
               "--parent", str(os.getpid())]
        self.argv = in_cgroup(cgroup, ["ip", "netns", "exec", net.netns, *app] if net else app, cpus, also)
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.address: tuple[str, int] | None = None

    async def start(self) -> tuple[str, int]:
        """Spawn the process and wait for it to report its address. demo_app reports it only once its signal
        handling is in place, so the grace period of a pod that got this far is the app's to honour or ignore
        (a pod deleted while still starting gets SIGTERM wherever it is, as from a real kubelet)."""
        log = self.log_path.open("ab") if self.log_path else None
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=log if log else subprocess.DEVNULL, start_new_session=True)
        finally:
            if log:
                log.close()
        assert self.proc.stdout is not None
        async with asyncio.timeout(START_TIMEOUT_S):
            line = await self.proc.stdout.readline()
        if not line:
            await self.proc.wait()
            raise RuntimeError(f"the pod's process exited with {self.proc.returncode} before listening")
        host, _, port = json.loads(line)["listening"].rpartition(":")
        self.address = (host, int(port))
        return self.address
