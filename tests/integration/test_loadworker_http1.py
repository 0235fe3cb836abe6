"""The worker's HTTP/1.1 client against real servers on loopback: HEAD answers with a length and no body, chunked
and read-until-close answers, kept-alive connections, a connection dropped before any answer (sent again only when
idempotent), a deadline, and a header that would break the framing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from chaos_operator.loadworker.http1 import Http1Client, request_bytes

Respond = Callable[[bytes], bytes | None]  # a request's head -> the raw answer (None: say nothing)


@asynccontextmanager
async def raw_server(respond: Respond, close_after: bool = False,
                     drop_second: bool = False) -> AsyncIterator[tuple[int, list[int]]]:
    """A server speaking raw bytes; yields its port and the number of requests per connection it served."""
    served: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.append(0)
        me = len(served) - 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                if drop_second and served[me] == 1:
                    break
                served[me] += 1
                answer = respond(head)
                if answer is None:
                    await asyncio.sleep(3600)
                writer.write(answer or b"")
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(handle, sock=sock)
    try:
        yield sock.getsockname()[1], served
    finally:
        server.close()


def client(port: int, method: str = "GET", body: bytes | None = None) -> Http1Client:
    request = request_bytes(method, f"127.0.0.1:{port}", "/x?y=1", {"User-Agent": "t"}, body)
    return Http1Client("127.0.0.1", port, request, method=method, tls=None, server_name=None)


async def times(http: Http1Client, n: int) -> list[int]:
    loop = asyncio.get_running_loop()
    return [await http.status(loop.time() + 5) for _ in range(n)]



async def test_head_answers_with_a_length_but_no_body_keep_the_connection_in_step() -> None:
    async with raw_server(lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n") as (port, served):
        http = client(port, "HEAD")
        assert await times(http, 3) == [200, 200, 200]
        await http.close()
    assert served == [3]  # one connection, kept alive


async def test_chunked_and_read_until_close_answers() -> None:
    chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    async with raw_server(lambda head: chunked) as (port, served):
        http = client(port, "POST", b'{"a": 1}')
        assert await times(http, 2) == [201, 201]
        await http.close()
    assert served == [2]
    until_close = b"HTTP/1.1 503 Busy\r\nConnection: close\r\n\r\nno length, ends with the connection"
    async with raw_server(lambda head: until_close, close_after=True) as (port, served):
        http = client(port)
        assert await times(http, 2) == [503, 503]
        await http.close()
    assert served == [1, 1]


async def test_a_connection_dropped_before_any_answer_is_retried_only_for_idempotent_methods() -> None:
    # Each connection answers its first request as if kept alive and closes on its second without a byte: the
    # case of a server ending an idle connection just as the next request goes out.
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    async with raw_server(lambda head: ok, drop_second=True) as (port, served):
        get = client(port)
        assert await times(get, 3) == [200, 200, 200]  # the 2nd and 3rd went again on new connections
        await get.close()
        post = client(port, "POST", b"x")
        assert await times(post, 1) == [200]
        with pytest.raises(ConnectionError, match="before any answer"):
            await times(post, 1)  # not sent twice: the server may have acted on it
        await post.close()
    assert served == [1, 1, 1, 1]


async def test_a_deadline_ends_the_request_and_the_connection() -> None:
    async with raw_server(lambda head: None) as (port, served):
        http = client(port)
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            await http.status(loop.time() + 0.3)
        assert not http.idle and not http.open
        await http.close()


def test_a_header_that_would_break_the_framing_is_refused() -> None:
    with pytest.raises(ValueError, match="CR, LF"):
        request_bytes("GET", "h", "/", {"X-Evil": "a\r\nInjected: 1"}, None)
