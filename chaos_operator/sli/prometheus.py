"""MetricsSource over prometheus-api-client (sync, so calls run in a worker thread)."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect

from chaos_operator.sli.source import MetricsError

TIMEOUT_S = 10.0


class PrometheusSource:
    def __init__(self, url: str) -> None:
        session = requests.Session()
        session.trust_env = False  # no proxies from the environment: the URL in the spec is the endpoint
        session.max_redirects = 0
        self._prom = PrometheusConnect(url=url, disable_ssl=False, session=session, timeout=TIMEOUT_S)

    async def instant(self, query: str, at: datetime.datetime) -> list[float]:
        params = {"time": f"{at.timestamp():.3f}"}
        try:
            result: Any = await asyncio.to_thread(self._prom.custom_query, query, params)
        except Exception as exc:  # connection errors and PromQL errors alike: the caller decides
            raise MetricsError(f"prometheus query failed: {exc}") from exc
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
