"""The load worker's HTTP/1.1 client: keep-alive connections, the request's bytes built once, answers parsed by
httptools (llhttp, the parser uvloop's authors maintain) with their bodies dropped as they arrive.

Why not aiohttp, the operator's client: its Python request and response path costs ~60 µs of CPU per request,
several times what the rest of the worker does; an asyncio Protocol on uvloop costs ~10 µs (benchmarks/README.md,
part 5). One request in flight per connection (no pipelining); connections are opened as requests need them and
kept while the server keeps them alive. A request on a reused connection that the server had closed meanwhile
is sent again once on a new connection when its method is idempotent and no byte of an answer came back — what
browsers and Go's client do; anything else is an error for the caller to count.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from typing import cast

import httptools

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
_UNSAFE = re.compile(r"[\r\n\x00]")


class Stale(ConnectionError):
    """The connection ended before any byte of the answer: the request may be sent again."""


class _Conn(asyncio.Protocol):
    def __init__(self, head: bool) -> None:
        self.head = head  # an answer to HEAD has no body whatever its Content-Length says
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.answered = False  # a byte of the current answer arrived
        self.headers_done = False
        self.reusable = True
        self.closed = False

    # ---- asyncio.Protocol ----
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass of asyncio's

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:  # includes an unexpected upgrade
            self._fail(ConnectionError(f"malformed answer: {exc}"))
            self.close()

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is None or self.waiter.done():
            return
        if self.headers_done:  # an answer framed by the connection's end (no length, not chunked)
            self.reusable = False
            self.waiter.set_result(self.parser.get_status_code())
        elif self.answered:
            self._fail(ConnectionError("the connection ended in the middle of the answer"))
        else:
            self._fail(Stale("the connection ended before any answer"))

    # ---- httptools callbacks ----
    def on_message_begin(self) -> None:
        self.headers_done = False

    def on_headers_complete(self) -> None:
        if self.parser.get_status_code() < 200:
            return  # 1xx: the final answer follows
        self.headers_done = True
        if self.head:
            # The parser cannot be told the request was HEAD: end the answer here and parse the next one afresh.
            keep_alive, code = self.parser.should_keep_alive(), self.parser.get_status_code()
            self.parser = httptools.HttpResponseParser(self)
            self._answer(keep_alive, code)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() < 200 or self.head:
            return
        self._answer(self.parser.should_keep_alive(), self.parser.get_status_code())

    # ---- ours ----
    def _answer(self, keep_alive: bool, code: int) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.reusable = keep_alive
            self.waiter.set_result(code)

    def _fail(self, exc: Exception) -> None:
        self.reusable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def begin(self, request: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.answered = self.headers_done = False
        self.transport.write(request)
        return self.waiter

    def expire(self) -> None:
        self._fail(TimeoutError("no answer by the request's deadline"))

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()


def request_bytes(method: str, host_header: str, target: str, headers: dict[str, str], body: bytes | None) -> bytes:
    """The whole request, built once. Refuses a header that would break the request's framing."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
    for name, value in headers.items():
        if _UNSAFE.search(name) or _UNSAFE.search(value) or ":" in name:
            raise ValueError(f"header {name!r}: a name or value with CR, LF, NUL (or a colon in the name)")
        lines.append(f"{name}: {value}")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class Http1Client:
    """`status()` sends the one request this worker repeats and gives the answer's status code."""

    def __init__(self, host: str, port: int, request: bytes, *, method: str, tls: ssl.SSLContext | None,
                 server_name: str | None) -> None:
        self.host, self.port, self.request, self.method = host, port, request, method
        self.tls = tls
        self.server_name = (server_name or host) if tls is not None else None
        self.idle: list[_Conn] = []
        self.open: set[_Conn] = set()

    async def _connect(self, deadline: float) -> _Conn:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(deadline):
            _, conn = await loop.create_connection(lambda: _Conn(self.method == "HEAD"), self.host, self.port,
                                                   ssl=self.tls, server_hostname=self.server_name)
        self.open.add(conn)
        return conn

    def _reused(self) -> _Conn | None:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
            self.open.discard(conn)
        return None

    async def status(self, deadline: float) -> int:
        """The answer's status code by `deadline` (loop time), else TimeoutError; OSError (ConnectionError
        included) when there is no answer. A connection left mid-answer is closed."""
        conn = self._reused()
        if conn is not None:
            try:
                return await self._exchange(conn, deadline)
            except Stale:
                if self.method not in IDEMPOTENT:
                    raise
        return await self._exchange(await self._connect(deadline), deadline)

    async def _exchange(self, conn: _Conn, deadline: float) -> int:
        # A plain timer rather than asyncio.timeout: per request, the context manager's cost shows in profiles.
        timer = asyncio.get_running_loop().call_at(deadline, conn.expire)
        try:
            code = await conn.begin(self.request)
        except BaseException:
            conn.close()
            self.open.discard(conn)
            raise
        finally:
            timer.cancel()
        if conn.reusable and not conn.closed:
            self.idle.append(conn)
        else:
            conn.close()
            self.open.discard(conn)
        return code

    async def close(self) -> None:
        for conn in list(self.open):
            conn.close()
        self.open.clear()
        self.idle.clear()
