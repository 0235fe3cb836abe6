"""Threads for integration tests: the real operator under kopf, and a real aiohttp service."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from chaos_operator.load.resolver import StaticResolver
from chaos_operator.operator import OperatorConfig, run_operator

# The operator's identity in the emulator: its calls are recorded under this bearer token, and
# tests/packaging/test_rbac.py checks them against the Helm chart's RBAC rules.
OPERATOR_TOKEN = "chaos-operator"


class OperatorThread:
    """The operator exactly as `chaos-operator run` runs it, pointed explicitly at the emulator."""

    def __init__(self, server: str, resolver: StaticResolver, operator_namespace: str = "chaos-system",
                 allowed: frozenset[str] | None = None, protected: frozenset[str] = frozenset()) -> None:
        self.config = OperatorConfig(server=server, operator_namespace=operator_namespace,
                                     allowed_namespaces=allowed, protected_namespaces=protected, resolver=resolver,
                                     poll_s=0.2, token=OPERATOR_TOKEN)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="operator", daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        try:
            asyncio.run(run_operator(self.config, stop_flag=self._stop, ready_flag=self._ready))
        except BaseException as exc:  # surfaced by stop() so a crash fails the test
            self.error = exc

    def __enter__(self) -> OperatorThread:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError(f"operator did not become ready: {self.error!r}")
        return self

    def stop(self, timeout: float = 60) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("operator did not stop")
        if self.error is not None and not isinstance(self.error, asyncio.CancelledError):
            raise RuntimeError(f"operator crashed: {self.error!r}") from self.error

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServiceThread:
    """A real HTTP service on 127.0.0.1: a fixed delay and a switchable failure status."""

    def __init__(self, delay_s: float = 0.0, status: int = 200) -> None:
        self.delay_s = delay_s
        self.status = status
        self.hits = 0
        self.by_status: dict[int, int] = {}
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="service", daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        if request.path == "/metrics":  # Prometheus text format, for the SLI tests
            lines = [f'test_requests_total{{code="{code}"}} {n}' for code, n in sorted(self.by_status.items())]
            return web.Response(text="# TYPE test_requests_total counter\n" + "\n".join(lines) + "\n")
        self.hits += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.by_status[self.status] = self.by_status.get(self.status, 0) + 1
        return web.Response(status=self.status, text="ok\n")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServiceThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 30.0, every: float = 0.1) -> Any:
    """Poll until probe() is truthy; bounded."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
