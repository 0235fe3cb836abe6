"""The load worker as a real process (`python -m chaos_operator.loadworker`), and its HTTP surface."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp

from chaos_operator.loadworker.record import WorkerState
from tests.support.net import free_port

STATE_TOKEN = "experiment-token-0123456789"


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def rss_kib(self, field: str = "VmRSS") -> int:
        for line in pathlib.Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field} for pid {self.proc.pid}")

    async def request(self, method: str, path: str, token: str | None = STATE_TOKEN,
                      body: Any = None) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with aiohttp.ClientSession() as session:
            async with session.request(method, self.url + path, headers=headers, json=body,
                                       timeout=aiohttp.ClientTimeout(total=10)) as response:
                return response.status, await response.text()

    async def start(self, start_at: float) -> None:
        status, text = await self.request("POST", "/start", body={"startAt": start_at})
        assert status == 200, text

    async def wait_done(self, timeout_s: float = 60.0) -> WorkerState:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                said = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"the worker exited {self.proc.returncode}: {said}")
            status, text = await self.request("GET", "/state")
            assert status == 200, text
            state = WorkerState.model_validate_json(text)
            if state.status == "done":
                return state
            await asyncio.sleep(0.2)
        raise AssertionError(f"the worker was not done within {timeout_s} s")


def write_config(directory: pathlib.Path, name: str, **fields: Any) -> pathlib.Path:
    token = directory / "state-token"
    token.write_text(STATE_TOKEN + "\n")
    config = {"stateTokenFile": str(token), "listenHost": "127.0.0.1", "lingerSeconds": 60, **fields}
    path = directory / f"{name}.json"
    path.write_text(json.dumps(config))
    return path


@contextmanager
def worker_process(config: pathlib.Path, index: int = 0, workers: int = 1) -> Iterator[WorkerProcess]:
    """Started with its own port (written into a copy of the config) and the Job's env; ready once /healthz is."""
    port = free_port()
    doc = json.loads(config.read_text())
    doc["port"] = port
    own = config.with_name(f"{config.stem}-{index}.json")
    own.write_text(json.dumps(doc))
    env = {**os.environ, "JOB_COMPLETION_INDEX": str(index), "LOAD_WORKERS": str(workers)}
    argv = [sys.executable, "-m", "chaos_operator.loadworker", "--config", str(own)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "loadworker i/k listening on port N", once it listens
        assert "listening" in line, line + (proc.stderr.read() if proc.stderr else "")
        yield WorkerProcess(proc, port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
