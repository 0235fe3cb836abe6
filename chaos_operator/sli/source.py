"""The MetricsSource port: instant PromQL queries at a point in time."""

from __future__ import annotations

import datetime
from typing import Protocol


class MetricsError(Exception):
    """Prometheus could not be reached or rejected the query."""


class MetricsRefused(MetricsError):
    """The operator will not query this Prometheus URL (its URL policy); the message says why."""


class MetricsSource(Protocol):
    async def instant(self, query: str, at: datetime.datetime) -> list[float]:
        """One value per series of the instant vector (a scalar gives one value)."""
        ...
