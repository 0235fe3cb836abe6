"""The load generator against real aiohttp servers on 127.0.0.1 (small, bounded runs; loose timing)."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from chaos_operator.load.generator import LoadGenerator, LoadSpec, run_phase
from chaos_operator.load.resolver import ClusterDnsResolver, ServiceNotFound


@dataclass
class Server:
    url: str
    hits: dict[str, int] = field(default_factory=dict)
    methods: set[str] = field(default_factory=set)
    peers: set[object] = field(default_factory=set)
    in_flight: int = 0
    max_in_flight: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)  # set = serving, clear = stalled


def _app(server: Server) -> web.Application:
    async def count(request: web.Request) -> None:
        server.hits[request.path] = server.hits.get(request.path, 0) + 1
        server.methods.add(request.method)
        server.peers.add(request.transport.get_extra_info("peername") if request.transport else None)

    async def ok(request: web.Request) -> web.Response:
        await count(request)
        return web.Response(text="ok")

    async def status(request: web.Request) -> web.Response:
        await count(request)
        return web.Response(status=int(request.match_info["code"]))

    async def redirect(request: web.Request) -> web.Response:
        await count(request)
        raise web.HTTPFound("/ok")

    async def sleep(request: web.Request) -> web.Response:
        await count(request)
        server.in_flight += 1
        server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
            await asyncio.sleep(float(request.query["s"]))
        finally:
            server.in_flight -= 1
        return web.Response(text="slept")

    async def gated(request: web.Request) -> web.Response:
        await count(request)
        await server.gate.wait()
        return web.Response(text="through")

    app = web.Application()
    app.router.add_route("*", "/ok", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/sleep", sleep)
    app.router.add_get("/gated", gated)
    return app


ServerFactory = Callable[[], Awaitable[Server]]


@pytest.fixture
async def start_server() -> AsyncIterator[ServerFactory]:
    runners: list[web.AppRunner] = []

    async def start() -> Server:
        server = Server(url="")
        server.gate.set()
        # handler_cancellation: a request we abandon (timeout) stops counting as in flight on the server
        runner = web.AppRunner(_app(server), access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        server.url = f"http://127.0.0.1:{port}"
        return server

    yield start
    for runner in runners:
        await runner.cleanup()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens here now: connects are refused


async def test_schedule_count_and_timeline(start_server: ServerFactory) -> None:
    server = await start_server()
    run = await run_phase(LoadSpec(base_urls=(server.url,), path="/ok", rate=200, timeout_s=1.0), 1.0)
    assert abs(run.scheduled - 200) <= 1
    assert run.summary.requests == run.scheduled == run.sent == server.hits["/ok"]
    assert run.summary.errors == 0 and run.summary.error_rate == 0.0
    assert run.summary.latency is not None and run.summary.throughput > 0
    assert run.started_mono <= run.finished_mono
    assert sum(p.requests for p in run.timeline) == run.summary.requests
    assert [p.second for p in run.timeline] == [0]
    assert not run.stopped_early


@pytest.mark.parametrize(
    ("path", "timeout_s", "klass"),
    [
        ("/status/500", 1.0, "http_5xx"),
        ("/status/503", 1.0, "http_5xx"),
        ("/status/404", 1.0, "unexpected_status"),
        ("/redirect", 1.0, "unexpected_status"),
        ("/sleep?s=1.0", 0.2, "timeout"),
    ],
)
async def test_error_classes(start_server: ServerFactory, path: str, timeout_s: float, klass: str) -> None:
    server = await start_server()
    run = await run_phase(LoadSpec(base_urls=(server.url,), path=path, rate=40, timeout_s=timeout_s), 0.25)
    summary = run.summary
    assert summary.requests == run.scheduled == 10
    assert summary.errors == 10 and summary.error_rate == 1.0
    assert getattr(summary.error_classes, klass) == 10
    assert summary.error_classes.total == 10
    assert "/ok" not in server.hits  # the redirect was not followed
    if klass == "timeout":
        assert summary.latency is not None and summary.latency.max == timeout_s  # recorded at the timeout


async def test_connection_refused() -> None:
    spec = LoadSpec(base_urls=(f"http://127.0.0.1:{_closed_port()}",), rate=40, timeout_s=1.0)
    run = await run_phase(spec, 0.25)
    assert run.summary.requests == 10
    assert run.summary.error_classes.connection == 10
    assert run.summary.latency is None  # no response, no latency
    assert run.summary.throughput == 0.0


async def test_methods_and_round_robin(start_server: ServerFactory) -> None:
    first, second = await start_server(), await start_server()
    for method in ("HEAD", "POST"):
        spec = LoadSpec(base_urls=(first.url, second.url), path="/ok", method=method, rate=80, timeout_s=1.0)
        run = await run_phase(spec, 0.25)
        assert run.summary.errors == 0
    assert first.methods == second.methods == {"HEAD", "POST"}
    assert first.hits["/ok"] == second.hits["/ok"] == 20


async def test_concurrency_cap_is_respected(start_server: ServerFactory) -> None:
    server = await start_server()
    spec = LoadSpec(base_urls=(server.url,), path="/sleep?s=0.05", rate=200, concurrency=4, timeout_s=5.0)
    run = await run_phase(spec, 0.5)
    assert 1 <= server.max_in_flight <= 4
    # Offered 200/s, served at most 4 / 0.05 s = 80/s: requests queued for a slot, and that wait counts.
    assert run.summary.requests == run.scheduled == run.sent == 100
    assert run.summary.errors == 0
    assert run.summary.latency is not None and run.summary.latency.p99 > 0.3


async def test_timeouts_in_flight_and_waiting_for_a_slot(start_server: ServerFactory) -> None:
    server = await start_server()
    spec = LoadSpec(base_urls=(server.url,), path="/sleep?s=1", rate=400, concurrency=2, timeout_s=0.1)
    run = await run_phase(spec, 0.25)
    assert run.summary.requests == run.scheduled == 100  # every scheduled request accounted for
    assert run.summary.error_classes.timeout == 100
    assert run.summary.latency is not None and run.summary.latency.max == 0.1
    assert server.max_in_flight >= 1


@pytest.mark.parametrize("concurrency", [8, 200])
async def test_stall_latency_is_measured_from_the_intended_time(start_server: ServerFactory, concurrency: int) -> None:
    server = await start_server()
    spec = LoadSpec(base_urls=(server.url,), path="/gated", rate=100, concurrency=concurrency, timeout_s=2.0)
    loop = asyncio.get_running_loop()
    loop.call_later(0.4, server.gate.clear)  # stall the service for ~0.5 s mid-run
    loop.call_later(0.9, server.gate.set)
    run = await run_phase(spec, 1.5)
    summary = run.summary
    assert summary.errors == 0 and summary.requests == 150
    assert summary.latency is not None
    # ~1/3 of requests were due during the stall; with few slots most of them waited in our backlog,
    # which still counts: p99 reflects the stall, not the service time.
    assert summary.latency.p99 > 0.3
    assert summary.latency.p50 < summary.latency.p99


async def test_stop_event_ends_the_run_early(start_server: ServerFactory) -> None:
    server = await start_server()
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    run = await run_phase(LoadSpec(base_urls=(server.url,), path="/ok", rate=50, timeout_s=1.0), 30.0, stop)
    assert run.stopped_early
    assert 1 <= run.scheduled < 50
    assert run.summary.requests == run.scheduled == server.hits["/ok"]
    assert run.summary.wall_s < 5.0


async def test_a_split_counts_the_requests_intended_after_it_apart(start_server: ServerFactory) -> None:
    server = await start_server()
    split = asyncio.Event()
    asyncio.get_running_loop().call_later(0.5, split.set)
    run = await run_phase(LoadSpec(base_urls=(server.url,), path="/ok", rate=100, timeout_s=1.0), 1.0, split=split)
    assert run.split_mono is not None and run.after_split is not None and run.before_split is not None
    before, after = run.before_split[0], run.after_split.requests
    assert before + after == run.summary.requests == server.hits["/ok"]
    # Request i is intended at i / 100 s: those before the split instant are the ramp's, the rest are after it.
    assert before == math.ceil(round((run.split_mono - run.started_mono) * 100, 9))
    assert after > 0 and run.after_split.wall_s < run.summary.wall_s


async def test_cancelling_a_phase_leaves_no_tasks(start_server: ServerFactory) -> None:
    server = await start_server()
    spec = LoadSpec(base_urls=(server.url,), path="/sleep?s=3", rate=50, concurrency=4, timeout_s=10.0)
    task = asyncio.create_task(run_phase(spec, 30.0))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    ours = [t for t in asyncio.all_tasks() if "_Phase" in t.get_coro().__qualname__]  # type: ignore[union-attr]
    assert ours == []


async def test_generator_reuses_connections_across_phases(start_server: ServerFactory) -> None:
    server = await start_server()
    async with LoadGenerator(LoadSpec(base_urls=(server.url,), path="/ok", rate=40, concurrency=2)) as generator:
        first = await generator.run_phase(0.25)
        second = await generator.run_phase(0.25)
    assert first.summary.requests == second.summary.requests == 10
    assert first.summary.errors == second.summary.errors == 0
    assert 1 <= len(server.peers) <= 2  # keep-alive connections, capped by concurrency, reused


async def test_cluster_dns_resolver_reports_an_unknown_service() -> None:
    resolver = ClusterDnsResolver(domain="svc.invalid", lookup_timeout_s=2.0)
    with pytest.raises(ServiceNotFound, match="no-such-service"):
        await resolver.resolve("chaos-test", "no-such-service", 8080)
