"""The worker's HTTP client (aiohttp): one pooled session, TLS from a CA file, bodies drained and dropped."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
from yarl import URL

from chaos_operator.loadworker.config import Settings
from chaos_operator.loadworker.record import Outcome, status_outcome

DRAIN_CHUNK = 64 * 1024  # bytes of a response body held at once per request


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    # Verification is always on: the CA bundle file replaces the system store when given.
    return ssl.create_default_context(cafile=ca_file)


class Client:
    def __init__(self, settings: Settings) -> None:
        config = settings.config
        self.url = URL(config.url, encoded=True)
        self.method = config.method
        self.body = settings.body
        self.success = settings.success
        self.server_name = config.server_name
        ssl_arg: ssl.SSLContext | bool = tls_context(config.ca_file) if self.url.scheme == "https" else False
        connector = aiohttp.TCPConnector(limit=config.concurrency, limit_per_host=0, ttl_dns_cache=10, ssl=ssl_arg)
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),  # the caller's deadline covers slot wait + request
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            headers={"User-Agent": "chaos-operator-load", **settings.headers},
        )

    async def send(self, deadline: float) -> tuple[Outcome, bool]:
        """One request, bounded by ``deadline`` (loop time): its outcome and whether its status is a success."""
        try:
            async with asyncio.timeout_at(deadline):
                async with self.session.request(self.method, self.url, data=self.body, allow_redirects=False,
                                                server_hostname=self.server_name) as response:
                    # Drained (the connection is reused) in bounded chunks and dropped: a 100 MB answer costs
                    # one chunk per request in flight, never the body.
                    async for _ in response.content.iter_chunked(DRAIN_CHUNK):
                        pass
                    status = response.status
        except TimeoutError:  # before ClientError: aiohttp's own timeouts are TimeoutErrors too
            return "timeout", False
        except (aiohttp.ClientError, OSError):  # refused, reset, DNS, TLS verification, malformed response
            return "connection", False
        return status_outcome(status), status in self.success

    async def close(self) -> None:
        await self.session.close()
