"""The one timestamp format of status and Events: RFC 3339, UTC, whole seconds, as Kubernetes writes them."""

from __future__ import annotations

import datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).strftime(FORMAT)


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, FORMAT).replace(tzinfo=datetime.UTC)
