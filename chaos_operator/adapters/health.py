"""The operator's only listening socket: GET /metrics, /healthz and /readyz (aiohttp server, read-only)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from chaos_operator.adapters import telemetry

# (ready, why): ready while this instance does its job, leading or standing by with the API reachable.
Readiness = Callable[[], tuple[bool, str]]


class HealthServer:
    def __init__(self, host: str, port: int, readiness: Readiness) -> None:
        self.host = host
        self.port = port
        self._readiness = readiness
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        # GET only (aiohttp answers HEAD for GET routes); anything else gets 405.
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        if self.port == 0:  # tests ask for any free port
            self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=telemetry.exposition(), headers={"Content-Type": telemetry.CONTENT_TYPE})

    async def _healthz(self, _: web.Request) -> web.Response:
        # Answering at all proves the event loop runs; a blocked loop fails the probe by timeout.
        return web.Response(text="ok\n")

    async def _readyz(self, _: web.Request) -> web.Response:
        ready, why = self._readiness()
        return web.Response(status=200 if ready else 503, text=why + "\n")
