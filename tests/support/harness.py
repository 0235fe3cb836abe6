"""What the integration tests run beside the operator (`chaos_sandbox.operator_thread.OperatorThread`): a real
aiohttp service in a thread, and a resolver with fixed answers that points the load at it."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from tests.support.resolver import StaticResolver as StaticResolver  # where the tests take it from

# The operator's identity in the emulator: its calls are recorded under this bearer token, and
# tests/packaging/test_rbac.py checks them against the Helm chart's RBAC rules. Pass it as OperatorThread(token=...).
OPERATOR_TOKEN = "chaos-operator"


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

