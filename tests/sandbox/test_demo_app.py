"""The demo service as a real process on loopback: knobs, metrics, signals, and its parent watchdog."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from chaos_sandbox.demo_app import BUCKETS, validate_knobs

from tests.support.waits import wait_for

APP = [sys.executable, "-m", "chaos_sandbox.demo_app", "--max-seconds", "60"]


class App:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([*APP, *args, "--pod", "p-1"], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = "http://" + json.loads(self.proc.stdout.readline())["listening"]
        assert self.url.startswith("http://127.0.0.1:")

    def get(self, path: str = "/") -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as resp:
                return resp.status, resp.read().decode(), resp.headers.get("X-Pod", "")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), exc.headers.get("X-Pod", "")


@pytest.fixture
def app_factory() -> Iterator[type[App]]:
    started: list[App] = []

    class Tracked(App):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)
    yield Tracked
    for app in started:
        app.proc.kill()
        app.proc.wait(5)
        if app.proc.stdout is not None:
            app.proc.stdout.close()


def test_knobs_are_validated() -> None:
    assert validate_knobs(["--latency-ms", "5", "--error-rate", "0.5", "--ignore-sigterm"])
    for bad in (["--error-rate", "2"], ["--latency-ms", "-1"], ["--port", "80"], ["--run", "x"], ["rm", "-rf"]):
        with pytest.raises(ValueError):
            validate_knobs(bad)


def test_metrics_count_requests_by_status_and_latency(app_factory: type[App]) -> None:
    app = app_factory("--service", "shop", "--error-rate", "1", "--latency-ms", "3")
    assert [app.get()[0] for _ in range(4)] == [500] * 4
    assert app.get("/ready")[0] == 200
    status, text, _ = app.get("/metrics")
    assert status == 200
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert lines['http_requests_total{service="shop",code="500"}'] == "4"
    buckets = [int(lines[f'http_request_duration_seconds_bucket{{service="shop",le="{b}"}}']) for b in BUCKETS]
    assert buckets == sorted(buckets) and buckets[0] == 0  # 3 ms of latency: never within 1 ms
    assert lines['http_request_duration_seconds_bucket{service="shop",le="+Inf"}'] == "4"
    assert lines['http_request_duration_seconds_count{service="shop"}'] == "4"
    assert float(lines['http_request_duration_seconds_sum{service="shop"}']) >= 0.012


def test_answers_name_the_pod_and_sigusr1_toggles_readiness(app_factory: type[App]) -> None:
    app = app_factory()
    assert app.get() == (200, "ok\n", "p-1")
    app.proc.send_signal(signal.SIGUSR1)
    wait_for("not ready", lambda: app.get("/ready")[0] == 503, 5)
    assert app.get()[0] == 200  # still serving: only the probe fails
    app.proc.send_signal(signal.SIGUSR1)
    wait_for("ready", lambda: app.get("/ready")[0] == 200, 5)


def test_sigterm_stops_it_and_ignore_sigterm_does_not(app_factory: type[App]) -> None:
    polite, stubborn = app_factory(), app_factory("--ignore-sigterm")
    for app in (polite, stubborn):
        app.proc.send_signal(signal.SIGTERM)
    assert polite.proc.wait(5) == 0
    time.sleep(0.5)
    assert stubborn.proc.poll() is None and stubborn.get()[0] == 200


def sigterm_disposition(pid: int) -> str:
    """"ignored", "caught" or "default": what SIGTERM does to the process now (from /proc/PID/status)."""
    fields = dict(line.split(":\t", 1) for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines())
    bit = 1 << (signal.SIGTERM - 1)
    if int(fields["SigIgn"], 16) & bit:
        return "ignored"
    return "caught" if int(fields["SigCgt"], 16) & bit else "default"


def full_pipe() -> tuple[int, int, int]:
    """A pipe whose buffer is already full: (read end, write end, bytes in it). A writer blocks at once."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    filled = 0
    with contextlib.suppress(BlockingIOError):
        while True:
            filled += os.write(write_fd, b"\0" * 4096)
    os.set_blocking(write_fd, True)
    return read_fd, write_fd, filled


@pytest.mark.parametrize(("args", "disposition"), [((), "caught"), (("--ignore-sigterm",), "ignored")])
def test_its_signal_handling_is_in_place_before_it_says_it_listens(args: tuple[str, ...], disposition: str) -> None:
    # The app's stdout is a full pipe, so it blocks writing its "listening" line, for as long as we like: its
    # SIGTERM disposition must already be set then (it was set just after that line once, and a SIGTERM sent
    # as soon as the line was read killed even an --ignore-sigterm app on a busy machine).
    read_fd, write_fd, filled = full_pipe()
    proc = subprocess.Popen([*APP, *args], stdout=write_fd)
    os.close(write_fd)
    try:
        wait_for(f"SIGTERM {disposition}", lambda: sigterm_disposition(proc.pid) == disposition, 30)
        with os.fdopen(read_fd, "rb") as out:
            assert len(out.read(filled)) == filled
            assert json.loads(out.readline())["listening"].startswith("127.0.0.1:")
            proc.send_signal(signal.SIGTERM)
            if disposition == "caught":
                assert proc.wait(5) == 0
            else:
                assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait(5)


def test_it_exits_when_its_parent_dies() -> None:
    # A parent that starts the app and then is SIGKILLed, as a crashed sandbox would be.
    # It says its PID, as the sandbox's kubelet does: killed before the app starts up, the parent is still noticed.
    parent_code = ("import os, subprocess, sys, time; "
                   "p = subprocess.Popen([*sys.argv[1:], '--parent', str(os.getpid())], stdout=subprocess.DEVNULL); "
                   "print(p.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", parent_code, *APP], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()  # at once: most likely before the app has even started up (the race a sandbox crash meets)
    parent.wait(5)
    parent.stdout.close()

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        return False
    try:
        wait_for("the orphaned app to exit", gone, 20)  # start-up included
    finally:
        if not gone():
            os.kill(child, signal.SIGKILL)


def test_http_status_probe_reads_the_status_line(app_factory: type[App]) -> None:
    from chaos_sandbox.node.podprocess import http_status

    app = app_factory()
    host, port = app.url.removeprefix("http://").split(":")
    assert asyncio.run(http_status(host, int(port), "/ready")) == 200
    app.proc.kill()
    app.proc.wait(5)
    assert asyncio.run(http_status(host, int(port), "/ready", timeout=0.5)) is None


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_large_responses_and_cpu_work_per_request(app_factory: type[App]) -> None:
    app = app_factory("--latency-ms", "0")
    assert app.get("/bytes?n=200000") == (200, "x" * 200_000, "p-1")
    assert app.get("/bytes")[:2] == (200, "")
    before = cpu_seconds(app.proc.pid)
    started = time.monotonic()
    for _ in range(10):
        assert app.get("/cpu?ms=30")[:2] == (200, "ok\n")
    burnt = cpu_seconds(app.proc.pid) - before
    assert burnt >= 0.28 and time.monotonic() - started >= 0.3  # CPU time per request, not only wall time
    for bad in ("/bytes?n=-1", "/bytes?n=10000001", "/bytes?n=nan", "/cpu?ms=abc", "/cpu?ms=1001"):
        status, text, _ = app.get(bad)
        assert status == 400 and "not" in text, (bad, status, text)
