"""An API server that misbehaves on demand, for clients' retries: queued error answers per route.

`Emulator.misbehave.queue(("patch", "chaosexperiments/status"), Failure(429, retry_after=1))` answers the next
such request (a subresource is named after its resource) with that error instead of serving it (each queued
answer once, in order). The bodies and headers are the ones a real API server sends: a `Status` of reason
TooManyRequests with `Retry-After` for 429 (API Priority and Fairness), InternalError for 500,
ServiceUnavailable for 503. A watch that drops is `store.close_watchers()`; a route that answers slowly or
never is `Emulator.stalls`."""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field

import aiohttp.web

REASONS = {429: "TooManyRequests", 500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable",
           504: "Timeout"}


@dataclass(frozen=True)
class Failure:
    code: int
    retry_after: int | None = None  # seconds, the header a client should wait for


@dataclass
class Misbehaviour:
    queued: dict[tuple[str, str], deque[Failure]] = field(default_factory=dict)  # (verb, resource) -> answers
    served: list[tuple[str, str, int, float]] = field(default_factory=list)  # (verb, resource, code, when)

    def queue(self, route: tuple[str, str], *failures: Failure) -> None:
        self.queued.setdefault(route, deque()).extend(failures)

    def answer(self, verb: str, resource: str) -> aiohttp.web.Response | None:
        """The error to give this request instead of serving it, if one is queued for its route."""
        pending = self.queued.get((verb, resource))
        if not pending:
            return None
        failure = pending.popleft()
        self.served.append((verb, resource, failure.code, time.monotonic()))
        reason = REASONS.get(failure.code, "InternalError")
        message = {429: "the server has received too many requests and has asked us to try again later",
                   }.get(failure.code, f"an error on the server ({reason}) has prevented the request from succeeding")
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                "reason": reason, "details": {"retryAfterSeconds": failure.retry_after} if failure.retry_after
                else {}, "code": failure.code}
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
        return aiohttp.web.Response(status=failure.code, body=json.dumps(body).encode(), headers=headers,
                                    content_type="application/json")
