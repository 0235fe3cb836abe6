"""The load worker as it runs in a pod, for benchmarks/loadgen.py: `python -m chaos_operator.loadworker` in a
process of its own, pinned to the given core, saturated (its rate far above what it can send), against the same
server as wrk. Throughput = 2xx answers / (time the worker took from startAt to its last answer)."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import pathlib
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine
from typing import Any, cast

from chaos_operator.loadworker.record import WorkerState

TOKEN = "bench-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(port: int, path: str, body: dict[str, float] | None = None) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST" if body else "GET",
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.read().decode())


def _cpu_s(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, seconds: int, connections: int) -> tuple[float, float]:
    """(req/s, CPU µs per request) of wrk -t1 (it inherits this process's pinning)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rps = float(re.findall(r"Requests/sec:\s+([0-9.]+)", out)[0])
    total = int(re.findall(r"([0-9]+) requests in", out)[0])
    used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return rps, used / total * 1e6


def run_worker(url: str, cpu: int | None, requests: int, connections: int, loop: str = "uvloop",
               profile: str | None = None) -> tuple[float, float]:
    """(2xx per second, CPU µs per request of the worker) for ``requests`` sent as fast as it can."""
    rate = 100_000.0
    with tempfile.TemporaryDirectory() as tmp:
        token = pathlib.Path(tmp) / "token"
        token.write_text(TOKEN)
        port = _free_port()
        config = pathlib.Path(tmp) / "config.json"
        config.write_text(json.dumps({"url": url + "/", "rate": rate, "durationSeconds": requests / rate,
                                      "concurrency": connections, "timeoutSeconds": 60, "stateTokenFile": str(token),
                                      "listenHost": "127.0.0.1", "port": port, "lingerSeconds": 30}))
        argv = [sys.executable, "-m", "chaos_operator.loadworker", "--config", str(config), "--loop", loop]
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu), *argv]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        spy = None
        try:
            assert proc.stdout is not None
            proc.stdout.readline()  # listening
            start_at = time.time() + 0.5
            _call(port, "/start", {"startAt": start_at})
            if profile is not None:
                py_spy = str(pathlib.Path(sys.executable).parent / "py-spy")
                spy = subprocess.Popen([py_spy, "record", "--pid", str(proc.pid), "--format", "raw", "--rate",
                                        "250", "--output", profile, "--duration", "4"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(max(0.0, start_at - time.time()))
            cpu_before, wall_before = _cpu_s(proc.pid), time.monotonic()
            while True:
                state = WorkerState.model_validate_json(_call(port, "/state"))
                if state.status == "done":
                    break
                time.sleep(0.05)
            wall = time.monotonic() - wall_before
            used = _cpu_s(proc.pid) - cpu_before
        finally:
            if spy is not None:
                spy.wait(timeout=30)
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
    ok = sum(record.outcomes.get("2xx", 0) for record in state.seconds)
    return ok / wall, used / ok * 1e6


def top_frames(raw_profile: str, count: int = 12) -> list[tuple[float, str]]:
    """py-spy's raw (collapsed) stacks → the share of samples each function is on top of the stack."""
    leaves: dict[str, int] = {}
    total = 0
    for line in pathlib.Path(raw_profile).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        leaf = stack.split(";")[-1]
        leaves[leaf] = leaves.get(leaf, 0) + int(n)
        total += int(n)
    packages: dict[str, int] = {}
    for leaf, hits in leaves.items():
        where = next((name for name in ("aiohttp", "yarl", "multidict", "asyncio", "chaos_operator", "hdrh", "uvloop",
                                        "pydantic") if f"({name}/" in leaf or f"/{name}/" in leaf), "other")
        packages[where] = packages.get(where, 0) + hits
    by_package = ", ".join(f"{name} {n / total:.0%}" for name, n in sorted(packages.items(), key=lambda p: -p[1]))
    return [(1.0, f"by package of the running function: {by_package}")] + sorted(
        ((n / total, leaf) for leaf, n in leaves.items()), reverse=True)[:count]


def print_figures(url: str, cpu: int | None, seconds: int, in_operator: tuple[float, float], profile: bool) -> float:
    """Part 5 of loadgen.py: the worker beside wrk and the in-operator generator, same server, same core. On this
    shared machine throughput swings with other processes; CPU time per request does not, so the ratio judged is
    requests per CPU-second (wrk's µs per request / the worker's), with throughput printed beside it."""
    requests = 20_000 * seconds  # about `seconds` of work at the rates measured here
    wrk = min((run_wrk(url + "/", seconds, 64) for _ in range(2)), key=lambda pair: pair[1])
    runs = {loop: min((run_worker(url, cpu, requests, 64, loop) for _ in range(2)), key=lambda pair: pair[1])
            for loop in ("asyncio", "uvloop")}
    rows = [("wrk -t1 -c64", wrk), ("in-operator generator (4 capped phases)", in_operator),
            ("load worker process, asyncio loop", runs["asyncio"]), ("load worker process, uvloop", runs["uvloop"]),
            ("floor: bare aiohttp get+read, uvloop", floor(url, cpu, "aiohttp", requests)),
            ("floor: raw asyncio Protocol, uvloop", floor(url, cpu, "raw", requests)),
            ("sketch: the worker's work on callbacks", floor(url, cpu, "callbacks", requests)),
            ("sketch: callbacks, sweep, HDR at close", floor(url, cpu, "lean", requests))]
    for name, (rps, us) in rows:
        print(f"  {name:40s} {rps:9,.0f} req/s  {us:6.1f} us CPU/request  ratio to wrk: throughput"
              f" {rps / wrk[0]:.2f}, per CPU-second {wrk[1] / us:.2f}")
    if profile:
        with tempfile.TemporaryDirectory() as tmp:
            path = str(pathlib.Path(tmp) / "profile.txt")
            run_worker(url, cpu, requests, 64, profile=path)
            print("  where the worker's time goes (py-spy, share of samples on top of the stack):")
            for share, frame in top_frames(path):
                print(f"    {share:6.1%}  {frame}")
    return wrk[1] / runs["uvloop"][1]


# --- floors: what the same core can do with less than the worker (measured, to say what would help) ----------

async def _bare_aiohttp(url: str, requests: int, connections: int) -> None:
    import aiohttp

    left = requests

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with session.get(url) as response:
                await response.read()

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session) for _ in range(connections)))


async def _raw_protocol(url: str, requests: int, connections: int) -> None:
    """Keep-alive GETs on plain asyncio Protocols: a fixed request, responses split by Content-Length only."""
    host, port = url.split("//")[1].split(":")
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    loop = asyncio.get_running_loop()
    left = requests
    finished = loop.create_future()

    class Conn(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport, self.buffer = cast(asyncio.Transport, transport), b""  # uvloop's is no subclass
            self.send()

        def send(self) -> None:
            nonlocal left
            if left <= 0:
                if not finished.done():
                    finished.set_result(None)
                return
            left -= 1
            self.transport.write(request)

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                length = int(re.search(rb"(?i)content-length: *([0-9]+)", self.buffer[:end]).group(1))  # type: ignore[union-attr]
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length:]
                self.send()

    for _ in range(connections):
        await loop.create_connection(Conn, host, int(port))
    await finished


def floor(url: str, cpu: int | None, kind: str, requests: int) -> tuple[float, float]:
    """(req/s, CPU µs per request) of a floor client in its own process with uvloop, pinned like the worker."""
    argv = [sys.executable, __file__, "--floor", kind, url, str(requests)]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout.split()
    return float(out[0]), float(out[1])


if __name__ == "__main__" and sys.argv[1:2] == ["--floor"]:
    import uvloop

    kind, target, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
    from callback_sketch import callbacks  # beside this script

    runners: dict[str, Callable[[str, int, int], Coroutine[Any, Any, None]]] = {
        "aiohttp": _bare_aiohttp, "raw": _raw_protocol, "callbacks": callbacks,
        "lean": functools.partial(callbacks, lean=True)}
    run = runners[kind]
    cpu0, wall0 = time.process_time(), time.monotonic()
    uvloop.run(run(target, count, 64))
    cpu_used, wall_used = time.process_time() - cpu0, time.monotonic() - wall0
    print(count / wall_used, cpu_used / count * 1e6)
