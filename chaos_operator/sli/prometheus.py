"""MetricsSource over prometheus-api-client (sync, so calls run in a worker thread).

Every query first passes the URL policy (`sli/urlpolicy.py`: the allow-list, never link-local or metadata
addresses, also as the host name resolves now). The query then goes to the very address that was vetted: the
URL is rewritten to it, with the name kept in the Host header and, over HTTPS, for SNI and the certificate
check. Otherwise the client would resolve the name again, and a name that answers an allowed address to the
check and a metadata address a moment later (DNS rebinding) would slip through.

An error says what failed (HTTP status, the kind of connection error), never what Prometheus answered: a response
body is not copied into the experiment's status.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from requests.adapters import HTTPAdapter

from chaos_operator.sli import urlpolicy
from chaos_operator.sli.source import MetricsError, MetricsRefused

TIMEOUT_S = 10.0
Resolve = Callable[[str], list[str]]  # host name -> its addresses


def resolve(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None)]


class PrometheusSource:
    def __init__(self, url: str, allowed: Sequence[str] = (), resolver: Resolve = resolve) -> None:
        self._refused = urlpolicy.url_refusal(url, allowed)
        self._url = urlsplit(url.strip())
        self._host = self._url.hostname or ""
        self._resolve = resolver
        self._clients: dict[str, PrometheusConnect] = {}  # vetted address -> a client pinned to it

    async def _vetted(self) -> str:
        """The address to query: the host as it resolves now, every address of it allowed."""
        if self._refused is not None:
            raise MetricsRefused(self._refused)
        if _is_address(self._host):
            return self._host
        try:
            addresses = await asyncio.to_thread(self._resolve, self._host)
        except OSError as exc:
            raise MetricsError(f"prometheus host {self._host} does not resolve ({type(exc).__name__})") from exc
        if not addresses:
            raise MetricsError(f"prometheus host {self._host} does not resolve")
        if why := urlpolicy.resolved_refusal(self._host, addresses):
            raise MetricsRefused(why)
        return addresses[0]

    def _client(self, address: str) -> PrometheusConnect:
        if address not in self._clients:
            self._clients[address] = _pinned(self._url, address)
        return self._clients[address]

    async def instant(self, query: str, at: datetime.datetime) -> list[float]:
        prom = self._client(await self._vetted())
        params = {"time": f"{at.timestamp():.3f}"}
        try:
            result: Any = await asyncio.to_thread(prom.custom_query, query, params)
        except PrometheusApiClientException as exc:
            # Its text holds the response body: keep only the status code.
            words = str(exc).split()
            code = words[3] if len(words) > 3 and words[:3] == ["HTTP", "Status", "Code"] else "an error"
            raise MetricsError(f"prometheus query failed: HTTP {code}") from exc
        except Exception as exc:  # connection errors, an unreadable answer: the caller decides
            raise MetricsError(f"prometheus query failed: {type(exc).__name__}") from exc
        return _values(result)


class _NamedTLS(HTTPAdapter):
    """TLS to an address, with SNI and the certificate's name check for the host name in the URL."""

    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.update(server_hostname=self._hostname, assert_hostname=self._hostname)
        super().init_poolmanager(*args, **kwargs)


def _pinned(url: SplitResult, address: str) -> PrometheusConnect:
    host = url.hostname or ""
    netloc = f"[{address}]" if ":" in address else address
    if url.port is not None:
        netloc += f":{url.port}"
    session = requests.Session()
    session.trust_env = False  # no proxies from the environment: the URL in the spec is the endpoint
    session.max_redirects = 0
    headers = {}
    if address != host:
        headers["Host"] = host if url.port is None else f"{host}:{url.port}"
        if url.scheme == "https":
            session.mount("https://", _NamedTLS(host))
    pinned = urlunsplit((url.scheme, netloc, url.path, url.query, ""))
    return PrometheusConnect(url=pinned, headers=headers or None, disable_ssl=False, session=session,
                             timeout=TIMEOUT_S)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _values(result: Any) -> list[float]:
    # custom_query returns data.result: a list of {metric, value:[ts, "v"]} for vectors,
    # or [ts, "v"] for a scalar.
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return [float(result[1])]
    values = []
    for series in result or []:
        if isinstance(series, dict) and "value" in series:
            values.append(float(series["value"][1]))
    return values
