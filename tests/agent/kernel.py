"""Helpers for the agent's kernel tests: two test-owned network namespaces joined by a veth pair,
a process standing in for a pod (own netns, own cgroup named with a pod UID), and the agent run as
a real subprocess. Everything created here is removed by its owner, and the removal is checked."""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

REPO = pathlib.Path(__file__).resolve().parents[2]
NETTOOL = pathlib.Path(__file__).parent / "nettool.py"
CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")


def kernel_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "kernel tests need root (network namespaces, tc, cgroups)"
    for tool in ("ip", "tc", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install iproute2 util-linux)"
    return None


def run(argv: list[str], timeout: float = 10, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{argv}: {result.stderr.strip()}")
    return result


@dataclass
class Procs:
    """Every process a test starts; whatever is still alive at teardown is killed."""

    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        proc = subprocess.Popen(argv, text=True, **kwargs)
        self.started.append(proc)
        return proc

    def agent(self, *args: str, prefix: list[str] | None = None) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        return self.start([*(prefix or []), sys.executable, "-m", "chaos_operator.agent", *args], cwd=REPO, env=env)

    def close(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int, dict[str, Any], str]:
    out, err = proc.communicate(timeout=timeout)
    lines = out.strip().splitlines()
    assert lines, f"agent printed nothing; stderr: {err}"
    return proc.returncode, json.loads(lines[-1]), err


@dataclass
class NetPair:
    ns_a: str
    ns_b: str
    dev_a: str
    dev_b: str
    ip_a: str
    ip_b: str

    @classmethod
    def create(cls) -> NetPair:
        tag = secrets.token_hex(3)
        third = int(tag[:2], 16)
        pair = cls(f"co-test-a-{tag}", f"co-test-b-{tag}", f"coa{tag}", f"cob{tag}",
                   f"10.213.{third}.1", f"10.213.{third}.2")
        run(["ip", "netns", "add", pair.ns_a])
        try:
            run(["ip", "netns", "add", pair.ns_b])
            # Created straight inside the namespaces: the root namespace never holds these devices.
            run(["ip", "link", "add", pair.dev_a, "netns", pair.ns_a, "type", "veth",
                 "peer", "name", pair.dev_b, "netns", pair.ns_b])
            for ns, dev, ip in ((pair.ns_a, pair.dev_a, pair.ip_a), (pair.ns_b, pair.dev_b, pair.ip_b)):
                run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev])
                run(["ip", "-n", ns, "link", "set", "lo", "up"])
                run(["ip", "-n", ns, "link", "set", dev, "up"])
            run(["ip", "-n", pair.ns_a, "route", "add", "default", "via", pair.ip_b])
        except Exception:
            pair.destroy()
            raise
        return pair

    def destroy(self) -> None:
        for ns in (self.ns_a, self.ns_b):
            run(["ip", "netns", "del", ns], check=False)
        names = run(["ip", "netns", "list"]).stdout
        assert self.ns_a not in names and self.ns_b not in names, names
        for dev in (self.dev_a, self.dev_b):
            assert run(["ip", "link", "show", dev], check=False).returncode != 0, f"{dev} left behind"

    def in_ns(self, ns: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def tc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(self.in_ns(self.ns_a, ["tc", *args]), check=check)

    def qdisc(self) -> str:
        return self.tc("qdisc", "show", "dev", self.dev_a).stdout

    def throughput(self, procs: Procs, seconds: float, max_bytes: int, port: int, host: str | None = None) -> float:
        """Bits per second from A to B, measured at the receiver over `seconds` (bounded by bytes)."""
        return self.throughputs(procs, seconds, max_bytes, [(host or self.ip_b, port)])[0]

    def throughputs(self, procs: Procs, seconds: float, max_bytes: int, peers: list[tuple[str, int]]) -> list[float]:
        """Several flows from A to B at once, one per (host, port): bits per second of each, at its receiver."""
        py = [sys.executable, str(NETTOOL)]
        sinks = []
        for host, port in peers:
            sink = procs.start(self.in_ns(self.ns_b, [*py, "sink", host, str(port), str(seconds)]))
            assert sink.stdout is not None
            assert sink.stdout.readline().strip() == "ready"
            sinks.append(sink)
        senders = [procs.start(self.in_ns(self.ns_a, [*py, "send", host, str(port), str(seconds + 5), str(max_bytes)]))
                   for host, port in peers]
        rates = []
        for sink, sender in zip(sinks, senders, strict=True):
            out, err = sink.communicate(timeout=seconds + 15)
            sender.communicate(timeout=seconds + 10)
            figures = json.loads(out.strip().splitlines()[-1])
            received, elapsed = int(figures["bytes"]), float(figures["seconds"])
            assert received > 0, err
            rates.append(received * 8 / max(elapsed, 1e-6))
        return rates

    def add_peer_address(self) -> str:
        """A second address on B's side, in A's subnet: a peer the fault may leave unscoped."""
        ip_b2 = self.ip_b.rsplit(".", 1)[0] + ".3"
        run(["ip", "-n", self.ns_b, "addr", "add", f"{ip_b2}/24", "dev", self.dev_b])
        return ip_b2

    def can_connect(self, procs: Procs, host: str, port: int, timeout: float = 1.5) -> bool:
        """One TCP connection from A to host:port (a server in B accepts)."""
        py = [sys.executable, str(NETTOOL)]
        server = procs.start(self.in_ns(self.ns_b, [*py, "accept", host, str(port), str(timeout + 3)]))
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        client = procs.start(self.in_ns(self.ns_a, [*py, "connect", host, str(port), str(timeout)]))
        out, _ = client.communicate(timeout=timeout + 10)
        server.kill()
        server.communicate(timeout=10)
        return bool(json.loads(out)["ok"])

    def udp(self, procs: Procs, peers: list[tuple[str, int]], count: int, size: int = 1000) -> list[dict[str, int]]:
        """`count` numbered datagrams from A to each peer at once: what each receiver counted."""
        py = [sys.executable, str(NETTOOL)]
        sinks = []
        for host, port in peers:
            sink = procs.start(self.in_ns(self.ns_b, [*py, "udpsink", host, str(port), str(count / 10 + 120)]),
                               stdin=subprocess.PIPE)
            assert sink.stdout is not None
            assert sink.stdout.readline().strip() == "ready"
            sinks.append(sink)
        senders = [procs.start(self.in_ns(self.ns_a, [*py, "udpsend", host, str(port), str(count), str(size)]))
                   for host, port in peers]
        for sender in senders:
            sender.communicate(timeout=count / 10 + 60)
        # Every datagram is out: the sinks count what the kernel delivered and stop (no silence threshold).
        return [json.loads(sink.communicate("stop\n", timeout=60)[0].strip().splitlines()[-1]) for sink in sinks]

    def alias(self) -> str | None:
        items = json.loads(run(self.in_ns(self.ns_a, ["ip", "-j", "link", "show", "dev", self.dev_a])).stdout)
        return str(items[0]["ifalias"]) if items and items[0].get("ifalias") else None

    def has_link(self, name: str) -> bool:
        return run(self.in_ns(self.ns_a, ["ip", "link", "show", "dev", name]), check=False).returncode == 0

    def rtts_ms(self, procs: Procs, count: int, port: int) -> list[float]:
        py = [sys.executable, str(NETTOOL)]
        bound = 20 + count  # seconds: room for slow starts (the VM tier) and a second per RTT at most
        server = procs.start(self.in_ns(self.ns_b, [*py, "echo", self.ip_b, str(port), str(bound)]))
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        client = procs.start(self.in_ns(self.ns_a, [*py, "ping", self.ip_b, str(port), str(count)]))
        out, _ = client.communicate(timeout=bound + 10)
        server.communicate(timeout=bound + 5)
        return [float(x) for x in json.loads(out)["rtt_ms"]]


@dataclass
class Cgroup:
    """A cgroup path made of `segments` under `base`; only the directories we created are removed."""

    base: pathlib.Path
    segments: list[str]
    created: list[pathlib.Path] = field(default_factory=list)

    @property
    def path(self) -> pathlib.Path:
        return self.base.joinpath(*self.segments)

    def create(self) -> Cgroup:
        current = self.base
        for segment in self.segments:
            current = current / segment
            if not current.exists():
                current.mkdir()
                self.created.append(current)
        return self

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        for directory in reversed(self.created):
            for _ in range(100):  # a just-killed process may take a moment to leave
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
        leaf = self.created[-1] if self.created else None
        assert leaf is None or not leaf.exists(), f"{leaf} left behind"


def own_memory_cgroup() -> pathlib.Path | None:
    """The memory cgroup v1 directory of this process, if that hierarchy is mounted."""
    for line in pathlib.Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            candidate = CGROUP_ROOT / "memory" / path.lstrip("/")
            return candidate if (candidate / "memory.limit_in_bytes").exists() else None
    return None


def stat_fields(pid: int) -> tuple[str, int, int, int] | None:
    """(comm, ppid, pgrp, session) of a process, or None if it is gone."""
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    rest = text[text.rindex(")") + 2:].split()
    return comm, int(rest[1]), int(rest[2]), int(rest[3])


def processes() -> dict[int, tuple[str, int, int, int]]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (fields := stat_fields(int(name))) is not None:
            out[int(name)] = fields
    return out


def stop(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> float:
    """Send `sig` and return when it was sent (monotonic)."""
    sent = time.monotonic()
    proc.send_signal(sig)
    return sent


OURS = "c4a0:"  # the agent's qdisc handle


def figure(text: str) -> None:
    print(f"\n[agent figures] {text}", flush=True)


def applied(pair: NetPair) -> bool:
    return OURS in pair.qdisc()


def qdisc_setup(pair: NetPair) -> list[dict[str, object]]:
    """The qdiscs and their configuration, without traffic counters (background packets move them)."""
    items = json.loads(pair.tc("-j", "qdisc", "show", "dev", pair.dev_a).stdout)
    for item in items:
        item.get("options", {}).pop("direct_packets_stat", None)
    return list(items)


def default_root(pair: NetPair) -> bool:
    return pair.qdisc().startswith("qdisc noqueue 0: root")


def stress_tree(agent_pid: int) -> dict[int, str]:
    """stress-ng processes under the agent: its child and that child's workers."""
    table = processes()
    parents = {pid for pid, (comm, ppid, _, _) in table.items() if ppid == agent_pid and comm == "stress-ng"}
    return {pid: comm for pid, (comm, ppid, _, _) in table.items()
            if pid in parents or (ppid in parents and comm.startswith("stress-ng"))}
