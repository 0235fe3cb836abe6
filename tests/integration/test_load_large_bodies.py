"""A service answering large bodies costs the load no memory: bodies are drained in bounded chunks and dropped.

Measured with tracemalloc around a real aiohttp server streaming 100 MB per answer (its one 1 MiB chunk is made
before tracing starts, so what is traced is the client's)."""

from __future__ import annotations

import asyncio
import socket
import tracemalloc

from aiohttp import web

from chaos_operator.load.generator import LoadSpec, run_phase

CHUNK = b"x" * 2**20
BODY_MB = 100


async def _big(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.content_length = BODY_MB * len(CHUNK)
    await response.prepare(request)
    for _ in range(BODY_MB):
        await response.write(CHUNK)
    await response.write_eof()
    return response


async def _peak_while_loading() -> tuple[int, int, int]:
    app = web.Application()
    app.router.add_get("/big", _big)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        spec = LoadSpec(base_urls=(f"http://127.0.0.1:{sock.getsockname()[1]}",), path="/big", rate=4,
                        concurrency=2, timeout_s=20.0)
        tracemalloc.start()
        try:
            run = await run_phase(spec, 1.0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return peak, run.summary.requests, run.summary.errors
    finally:
        await runner.cleanup()


def test_a_100_mb_body_is_drained_without_holding_it() -> None:
    peak, requests, errors = asyncio.run(_peak_while_loading())
    assert requests == 4 and errors == 0  # every 100 MB answer was read to its end
    assert peak < 16 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB while draining {BODY_MB} MB bodies"
