"""The worker's only listener (aiohttp): `/healthz` (read-only, open, for the readiness probe), `GET /state`
(read-only, bearer token) and `POST /start` (bearer token; sets the one start instant once)."""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Callable

from aiohttp import web

from chaos_operator.loadworker.record import WorkerState

StateView = Callable[[int], WorkerState]  # closed seconds from the given one on
StartSetter = Callable[[float], str | None]  # None, or why the start was refused


def _authorized(request: web.Request, token: str) -> bool:
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def build_app(token: str, state: StateView, start: StartSetter) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def get_state(request: web.Request) -> web.Response:
        if not _authorized(request, token):
            return web.Response(status=401, text="a bearer token is needed\n")
        since = request.query.get("since", "0")
        if not since.isdigit():
            return web.Response(status=400, text="since must be a second (a non-negative integer)\n")
        view = state(int(since))
        return web.Response(text=view.model_dump_json(by_alias=True), content_type="application/json")

    async def post_start(request: web.Request) -> web.Response:
        if not _authorized(request, token):
            return web.Response(status=401, text="a bearer token is needed\n")
        try:
            doc = json.loads(await request.content.read(4096))
            start_at = doc["startAt"]
            if isinstance(start_at, bool) or not isinstance(start_at, int | float) or not math.isfinite(start_at):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text='expected {"startAt": <unix seconds>}\n')
        refused = start(float(start_at))
        if refused is not None:
            return web.Response(status=409, text=refused + "\n")
        return web.Response(text="ok\n")

    app = web.Application(client_max_size=4096)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/state", get_state)
    app.router.add_post("/start", post_start)
    return app
