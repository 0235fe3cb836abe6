"""The load worker as a real process against real services on loopback: real requests (POST with a JSON body and
a bearer token from a file, over HTTPS with a CA made here and a server name), one start for all workers, the
authenticated state, the exact merge, and memory against 100 MB answers."""

from __future__ import annotations

import asyncio
import json
import pathlib
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from chaos_operator.loadworker.record import WorkerState, coverage, latency_over, merge
from tests.support.loadworker import worker_process, write_config
from tests.support.tls import make_ca_and_server

SERVICE_TOKEN = "svc-secret-token"
BODY = {"item": "book", "quantity": 2}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def _service(handler: Handler, context: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock, ssl_context=context).start()
    try:
        yield sock.getsockname()[1]
    finally:
        await runner.cleanup()


async def test_two_workers_post_json_with_a_token_over_https_and_merge_exactly(tmp_path: pathlib.Path) -> None:
    ca_file, server_tls = make_ca_and_server(tmp_path, "orders.shop.svc")
    seen: list[tuple[str, str, object]] = []

    async def orders(request: web.Request) -> web.Response:
        seen.append((request.method, request.headers.get("Authorization", ""), await request.json()))
        if request.headers.get("Authorization") != f"Bearer {SERVICE_TOKEN}":
            return web.Response(status=401)
        return web.Response(status=201, text="created")

    (tmp_path / "token").write_text(SERVICE_TOKEN + "\n")  # as a mounted Secret key: with its newline
    (tmp_path / "body.json").write_text(json.dumps(BODY))
    async with _service(orders, server_tls) as port:
        config = write_config(
            tmp_path, "post", url=f"https://127.0.0.1:{port}/orders", method="POST", rate=40, durationSeconds=2,
            headers={"Content-Type": "application/json"}, bodyFile=str(tmp_path / "body.json"),
            bearerTokenFile=str(tmp_path / "token"), caFile=str(ca_file), serverName="orders.shop.svc",
            successCodes=[201], concurrency=4)
        with worker_process(config, 0, 2) as first, worker_process(config, 1, 2) as second:
            assert await first.request("GET", "/healthz", token=None) == (200, "ok\n")
            assert (await first.request("GET", "/state", token=None))[0] == 401
            assert (await first.request("GET", "/state", token="wrong"))[0] == 401
            assert (await first.request("POST", "/start", token="wrong", body={"startAt": 1.0}))[0] == 401
            waiting = WorkerState.model_validate_json((await first.request("GET", "/state"))[1])
            assert (waiting.status, waiting.start_at, waiting.seconds) == ("waiting", None, [])
            start_at = time.time() + 1.0
            for worker in (first, second):
                await worker.start(start_at)
                await worker.start(start_at)  # a restarted operator says it again: the same instant is fine
            status, text = await first.request("POST", "/start", body={"startAt": start_at + 5})
            assert status == 409 and "already" in text
            states = [await first.wait_done(), await second.wait_done()]
    assert [(s.index, s.workers, s.start_at) for s in states] == [(0, 2, start_at), (1, 2, start_at)]
    merged = merge(s.seconds for s in states)
    assert [r.second for r in merged] == [0, 1]
    assert [(r.scheduled, r.sent, r.success, r.outcomes) for r in merged] == [(40, 40, 40, {"2xx": 40})] * 2
    assert [s.seconds[0].scheduled for s in states] == [20, 20]  # an even share each
    assert coverage(merged, 40, 0, 2) == 1.0
    assert latency_over(merged).get_total_count() == 80
    assert len(seen) == 80 and all(s == ("POST", f"Bearer {SERVICE_TOKEN}", BODY) for s in seen)


async def test_a_certificate_for_another_name_is_refused(tmp_path: pathlib.Path) -> None:
    ca_file, server_tls = make_ca_and_server(tmp_path, "orders.shop.svc")
    hits = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        return web.Response()

    async with _service(handler, server_tls) as port:
        config = write_config(tmp_path, "sni", url=f"https://127.0.0.1:{port}/", rate=5, durationSeconds=1,
                              caFile=str(ca_file), serverName="other.shop.svc")
        with worker_process(config) as worker:
            await worker.start(time.time() + 1.0)  # once it listens: a start it learns late would skip requests
            state = await worker.wait_done()
    assert hits == 0
    assert [r.outcomes for r in state.seconds] == [{"connection": 5}]


async def test_basic_auth_and_put_with_an_inline_body_and_status_classes(tmp_path: pathlib.Path) -> None:
    got: list[tuple[str, str, bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        got.append((request.method, request.headers.get("Authorization", ""), await request.read()))
        return web.Response(status=204 if len(got) % 2 else 503)

    (tmp_path / "user").write_text("alice\n")
    (tmp_path / "password").write_text("s3cret")
    async with _service(handler) as port:
        config = write_config(tmp_path, "put", url=f"http://127.0.0.1:{port}/items/1", method="PUT", rate=10,
                              durationSeconds=1, body="v=1",
                              basicAuth={"usernameFile": str(tmp_path / "user"),
                                         "passwordFile": str(tmp_path / "password")})
        with worker_process(config) as worker:
            await worker.start(time.time() + 1.0)
            state = await worker.wait_done()
    assert {g for g in got} == {("PUT", "Basic YWxpY2U6czNjcmV0", b"v=1")}  # base64 of alice:s3cret
    [second] = state.seconds
    assert (second.scheduled, second.success, second.outcomes) == (10, 5, {"2xx": 5, "5xx": 5})


async def _big(request: web.Request) -> web.StreamResponse:
    chunk = b"x" * 2**20
    response = web.StreamResponse()
    response.content_length = 100 * len(chunk)
    await response.prepare(request)
    for _ in range(100):
        await response.write(chunk)
    await response.write_eof()
    return response


async def test_the_workers_memory_stays_flat_against_100_mb_answers(tmp_path: pathlib.Path) -> None:
    async with _service(_big) as port:
        config = write_config(tmp_path, "big", url=f"http://127.0.0.1:{port}/big", rate=2, durationSeconds=2,
                              timeoutSeconds=30, concurrency=2)
        with worker_process(config) as worker:
            await asyncio.sleep(0.5)  # settled after start-up
            before = worker.rss_kib()
            await worker.start(time.time() + 0.2)
            state = await worker.wait_done(timeout_s=120)
            after, peak = worker.rss_kib(), worker.rss_kib("VmHWM")
    print(f"\nworker RSS before {before / 1024:.1f} MiB, after {after / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB"
          f" against 4 answers of 100 MB")
    assert [r.outcomes for r in state.seconds] == [{"2xx": 2}, {"2xx": 2}]  # every 100 MB answer read to its end
    assert peak - before < 32 * 1024, "the worker's memory grew with the body"


async def test_a_start_learned_late_shows_as_coverage_not_as_latency(tmp_path: pathlib.Path) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    async with _service(handler) as port:
        config = write_config(tmp_path, "late", url=f"http://127.0.0.1:{port}/", rate=10, durationSeconds=3)
        with worker_process(config) as worker:
            await worker.start(time.time() - 1.0)  # second 0 of the schedule is over before the worker hears of it
            state = await worker.wait_done()
            status, text = await worker.request("GET", "/state?since=2")
            assert status == 200 and [r.second for r in WorkerState.model_validate_json(text).seconds] == [2]
            assert (await worker.request("GET", "/state?since=x"))[0] == 400
            worker.proc.terminate()  # SIGTERM ends the linger: the pod's Job completes
            assert worker.proc.wait(timeout=30) == 0
    by_second = {r.second: r for r in state.seconds}
    assert (by_second[0].scheduled, by_second[0].sent, by_second[0].accounted) == (10, 0, 0)
    assert (by_second[2].scheduled, by_second[2].outcomes) == (10, {"2xx": 10})
    assert coverage(state.seconds, 10, 0, 3) < 0.7
    assert coverage(state.seconds, 10, 2, 3) == 1.0
