"""The demo service behind each sandbox Pod: one real process per pod (`python -m chaos_sandbox.demo_app`).

Knobs a pod spec may set in its container `args` (see `knob_parser`): base latency and jitter, CPU work
per request, the fraction of requests answered 500, whether SIGTERM is ignored, a header every request must carry
(`--require-header NAME=VALUE`, else 401), whether request bodies must be JSON (`--require-json`, else 400), and
TLS from a `kubernetes.io/tls` Secret (`--tls-secret NAME`: the sandbox writes its keys to files, as a Secret
volume would, and passes `--tls-cert`/`--tls-key`). Bodies are read up to MAX_BODY bytes (413 beyond). The
sandbox adds the address to listen on, the pod's name (sent back in an `X-Pod` header) and its run token.
Paths: `/ready` (readiness: 200; 503 once shutting down, or while SIGUSR1 has toggled it off, which is how tests make a
pod fail its readiness probe), `/metrics` (Prometheus text format), anything else is the service itself;
two of its paths add work for the network and CPU faults to show: `/bytes?n=N` answers N bytes (a large
response, slowed by a bandwidth limit), `/cpu?ms=N` burns N ms of CPU in the request (slowed by CPU stress).

On start it prints one JSON line, `{"listening": "HOST:PORT"}`, so the sandbox learns an ephemeral port; it
prints it only once its signal handling is in place, so a signal sent after that line meets the app's handlers.
It exits on SIGTERM/SIGINT after finishing in-flight requests, when its parent (the sandbox) is gone,
and after `--max-seconds` in any case: a crashed sandbox never leaves it running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import ssl
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

# Upper bounds (seconds) of the latency histogram; the last bucket is +Inf.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PARENT_POLL_S = 0.5
MAX_BYTES = 10_000_000  # /bytes?n=
MAX_CPU_MS = 1000.0  # /cpu?ms=
MAX_BODY = 1 << 20  # a request body's bytes


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValueError(message)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{text} is not within 0..1")
    return value


def _millis(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 60_000:
        raise ValueError(f"{text} ms is not within 0..60000")
    return value


def knob_parser() -> argparse.ArgumentParser:
    """The options a pod spec may set; the sandbox validates container args with this parser."""
    p = _Parser(prog="demo_app", description="sandbox demo service", add_help=False)
    p.add_argument("--latency-ms", type=_millis, default=2.0, help="base latency of each request")
    p.add_argument("--jitter-ms", type=_millis, default=0.0, help="uniform extra latency, 0..this")
    p.add_argument("--cpu-ms", type=_millis, default=0.0, help="CPU time burnt per request (blocks the process)")
    p.add_argument("--error-rate", type=_fraction, default=0.0, help="fraction of requests answered 500")
    p.add_argument("--service", default="demo", help="the `service` label on the metrics")
    p.add_argument("--ignore-sigterm", action="store_true", help="ignore SIGTERM (tests of grace periods)")
    p.add_argument("--require-header", type=_header, help="NAME=VALUE every request must carry (else 401)")
    p.add_argument("--require-json", action="store_true", help="a request's body must be JSON (else 400)")
    p.add_argument("--tls-secret", help="serve HTTPS with this kubernetes.io/tls Secret (resolved by the sandbox)")
    p.add_argument("--warmup-ms", type=_millis, default=0.0,
                   help="not ready for this long after it starts (a service warming its caches)")
    return p


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"{text!r} is not NAME=VALUE")
    return name.strip(), value


def full_parser() -> argparse.ArgumentParser:
    p = knob_parser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: an ephemeral port, printed on start")
    p.add_argument("--run", default="", help="the sandbox run token (lets `sandbox down` find strays)")
    p.add_argument("--pod", default="", help="the pod's name, sent back in an X-Pod header")
    p.add_argument("--parent", type=int, default=0,
                   help="the PID of the process that started it, which it outlives by no more than a poll "
                        "(default: its parent at start, which is wrong if that parent is already gone by then)")
    p.add_argument("--max-seconds", type=float, default=3600.0, help="exit after this long whatever happens")
    p.add_argument("--shutdown-timeout", type=float, default=5.0, help="longest wait for in-flight requests")
    p.add_argument("--tls-cert", help="PEM certificate chain: serve HTTPS")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    return p


def validate_knobs(args: Sequence[str]) -> list[str]:
    """The args unchanged if every one is a known knob with a valid value; ValueError otherwise."""
    knob_parser().parse_args(list(args))
    return list(args)


@dataclass
class Metrics:
    service: str
    by_code: dict[int, int]
    buckets: list[int]
    total_s: float = 0.0
    count: int = 0

    def observe(self, code: int, seconds: float) -> None:
        self.by_code[code] = self.by_code.get(code, 0) + 1
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1
        self.total_s += seconds
        self.count += 1

    def render(self) -> str:
        svc = self.service.replace("\\", "\\\\").replace('"', '\\"')
        lines = ["# HELP http_requests_total Requests served, by status code.",
                 "# TYPE http_requests_total counter"]
        lines += [f'http_requests_total{{service="{svc}",code="{code}"}} {n}'
                  for code, n in sorted(self.by_code.items())]
        lines += ["# HELP http_request_duration_seconds Time to answer a request.",
                  "# TYPE http_request_duration_seconds histogram"]
        for bound, n in zip(BUCKETS, self.buckets, strict=True):
            lines.append(f'http_request_duration_seconds_bucket{{service="{svc}",le="{bound}"}} {n}')
        lines.append(f'http_request_duration_seconds_bucket{{service="{svc}",le="+Inf"}} {self.count}')
        lines.append(f'http_request_duration_seconds_sum{{service="{svc}"}} {self.total_s:.6f}')
        lines.append(f'http_request_duration_seconds_count{{service="{svc}"}} {self.count}')
        return "\n".join(lines) + "\n"


class DemoApp:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.metrics = Metrics(opts.service, {}, [0] * len(BUCKETS))
        self.stopping = False
        self.unready = False  # toggled by SIGUSR1
        self.ready_at = time.monotonic() + opts.warmup_ms / 1000

    def toggle_ready(self) -> None:
        self.unready = not self.unready

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/ready":
            ok = not (self.stopping or self.unready) and time.monotonic() >= self.ready_at
            return web.Response(status=200 if ok else 503, text="ready\n" if ok else "not ready\n")
        if request.path == "/metrics":
            return web.Response(text=self.metrics.render(), content_type="text/plain", charset="utf-8",
                                headers={"X-Prometheus-Format": "0.0.4"})
        started = time.perf_counter()
        refused = await self._refusal(request)
        if refused is not None:
            self.metrics.observe(refused.status, time.perf_counter() - started)
            return refused
        try:
            size = _query_number(request, "n", MAX_BYTES) if request.path == "/bytes" else None
            cpu_ms = self.opts.cpu_ms + (_query_number(request, "ms", MAX_CPU_MS) if request.path == "/cpu" else 0)
        except ValueError as exc:
            return web.Response(status=400, text=f"{exc}\n", headers={"X-Pod": self.opts.pod})
        delay = self.opts.latency_ms + random.uniform(0.0, self.opts.jitter_ms)
        if delay:
            await asyncio.sleep(delay / 1000)
        burn(cpu_ms / 1000)
        code = 500 if random.random() < self.opts.error_rate else 200
        self.metrics.observe(code, time.perf_counter() - started)
        if code == 200 and size is not None:
            return web.Response(body=b"x" * int(size), content_type="application/octet-stream",
                                headers={"X-Pod": self.opts.pod})
        return web.Response(status=code, text="ok\n" if code == 200 else "injected error\n",
                            headers={"X-Pod": self.opts.pod})


    async def _refusal(self, request: web.Request) -> web.Response | None:
        """401 without the required header, 413 for a body too large, 400 for a body that is not the JSON asked."""
        pod = {"X-Pod": self.opts.pod}
        if self.opts.require_header is not None:
            name, value = self.opts.require_header
            if request.headers.get(name) != value:
                return web.Response(status=401, text=f"{name} missing or wrong\n", headers=pod)
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return web.Response(status=413, text=f"body above {MAX_BODY} bytes\n", headers=pod)
        if self.opts.require_json and request.method in ("POST", "PUT", "PATCH"):
            try:
                json.loads(body)
            except ValueError:
                return web.Response(status=400, text="the body is not JSON\n", headers=pod)
        return None


def burn(cpu_s: float) -> None:
    """Real CPU work: this much CPU *time* (not wall time), blocking, as a CPU-bound handler does. With less CPU to
    go round (CPU stress beside it) the same work takes longer."""
    until = time.thread_time() + cpu_s
    while time.thread_time() < until:
        pass


def _query_number(request: web.Request, name: str, high: float) -> float:
    text = request.query.get(name, "0")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None
    if not 0 <= value <= high:
        raise ValueError(f"{name}={text} is not within 0..{high:g}")
    return value


async def serve(opts: argparse.Namespace) -> None:
    app = DemoApp(opts)
    server = web.Application()
    server.router.add_route("*", "/{tail:.*}", app.handle)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # The starter's PID as it said it (a parent that died before this line would otherwise read as init).
    parent = opts.parent or os.getppid()
    # Signal dispositions first: the "listening" line below is the app's word that it is started, and a
    # signal sent after it must meet them (a SIGTERM before them would kill even an --ignore-sigterm app).
    if opts.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, app.toggle_ready)
    runner = web.AppRunner(server, access_log=None, shutdown_timeout=opts.shutdown_timeout)
    await runner.setup()
    try:
        tls = None
        if opts.tls_cert:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(opts.tls_cert, opts.tls_key)
        site = web.TCPSite(runner, opts.host, opts.port, ssl_context=tls)
        await site.start()
        host, port = runner.addresses[0][:2]
        print(json.dumps({"listening": f"{host}:{port}"}), flush=True)
        deadline = loop.time() + opts.max_seconds
        while not stop.is_set() and loop.time() < deadline and os.getppid() == parent:
            try:
                async with asyncio.timeout(PARENT_POLL_S):
                    await stop.wait()
            except TimeoutError:
                pass
        app.stopping = True
    finally:
        await runner.cleanup()  # stops listening, lets in-flight requests finish, closes keep-alives


def main(argv: Sequence[str] | None = None) -> int:
    try:
        opts = full_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        if bool(opts.tls_cert) != bool(opts.tls_key) or (opts.tls_secret and not opts.tls_cert):
            raise ValueError("--tls-cert and --tls-key go together (the sandbox turns --tls-secret into both)")
    except ValueError as exc:
        print(f"demo_app: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(opts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
