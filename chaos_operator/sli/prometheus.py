"""MetricsSource over prometheus-api-client (sync, so calls run in a worker thread).

Every query first passes the URL policy (`sli/urlpolicy.py`: the allow-list, never link-local or metadata
addresses, also as the host name resolves now). An error says what failed (HTTP status, the kind of connection
error), never what Prometheus answered: a response body is not copied into the experiment's status.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException

from chaos_operator.sli import urlpolicy
from chaos_operator.sli.source import MetricsError, MetricsRefused

TIMEOUT_S = 10.0


class PrometheusSource:
    def __init__(self, url: str, allowed: Sequence[str] = ()) -> None:
        self._refused = urlpolicy.url_refusal(url, allowed)
        self._host = urlsplit(url.strip()).hostname or ""
        session = requests.Session()
        session.trust_env = False  # no proxies from the environment: the URL in the spec is the endpoint
        session.max_redirects = 0
        self._prom = PrometheusConnect(url=url, disable_ssl=False, session=session, timeout=TIMEOUT_S)

    async def _check(self) -> None:
        if self._refused is not None:
            raise MetricsRefused(self._refused)
        try:
            infos = await asyncio.to_thread(socket.getaddrinfo, self._host, None)
        except OSError as exc:
            raise MetricsError(f"prometheus host {self._host} does not resolve ({type(exc).__name__})") from exc
        if why := urlpolicy.resolved_refusal(self._host, [str(info[4][0]) for info in infos]):
            raise MetricsRefused(why)

    async def instant(self, query: str, at: datetime.datetime) -> list[float]:
        await self._check()
        params = {"time": f"{at.timestamp():.3f}"}
        try:
            result: Any = await asyncio.to_thread(self._prom.custom_query, query, params)
        except PrometheusApiClientException as exc:
            # Its text holds the response body: keep only the status code.
            words = str(exc).split()
            code = words[3] if len(words) > 3 and words[:3] == ["HTTP", "Status", "Code"] else "an error"
            raise MetricsError(f"prometheus query failed: HTTP {code}") from exc
        except Exception as exc:  # connection errors, an unreadable answer: the caller decides
            raise MetricsError(f"prometheus query failed: {type(exc).__name__}") from exc
        return _values(result)


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
