"""The worker's requests: the one request of the config, sent over `http1.py`, TLS from a CA file, bodies dropped."""

from __future__ import annotations

import ssl

from yarl import URL

from chaos_operator.loadworker.config import Settings
from chaos_operator.loadworker.http1 import Http1Client, request_bytes
from chaos_operator.loadworker.record import Outcome, status_outcome

USER_AGENT = "chaos-operator-load"


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    # Verification is always on: the CA bundle file replaces the system store when given.
    return ssl.create_default_context(cafile=ca_file)


class Client:
    def __init__(self, settings: Settings) -> None:
        config = settings.config
        url = URL(config.url, encoded=True)
        assert url.host is not None and url.port is not None  # the config's pattern requires a host
        self.success = settings.success
        host_header = url.raw_host if url.is_default_port() else f"{url.raw_host}:{url.port}"
        request = request_bytes(config.method, str(host_header), url.raw_path_qs or "/",
                                {"User-Agent": USER_AGENT, **settings.headers}, settings.body)
        tls = tls_context(config.ca_file) if url.scheme == "https" else None
        self.http = Http1Client(url.host, url.port, request, method=config.method, tls=tls,
                                server_name=config.server_name)

    async def send(self, deadline: float) -> tuple[Outcome, bool]:
        """One request, bounded by ``deadline`` (loop time): its outcome and whether its status is a success."""
        try:
            status = await self.http.status(deadline)
        except TimeoutError:  # before OSError: a TimeoutError is one
            return "timeout", False
        except OSError:  # refused, reset, DNS, TLS verification, a malformed answer
            return "connection", False
        return status_outcome(status), status in self.success

    async def close(self) -> None:
        await self.http.close()
