"""Which failed API calls are tried again, and after how long (pure; adapters/kube.py classifies the failure).

An API server sheds load with 429 and a `Retry-After` header (API Priority and Fairness), and a rolling
upgrade of the control plane or a proxy in front of it answers 5xx or resets connections for a moment. The
official Python client retries none of them, so one such answer used to fail a status write, and with it the
whole run (OperatorError). Every call the operator makes is safe to repeat: reads; writes conditional on a
resourceVersion (a repeat that already applied meets 409 and is re-read); creates of deterministic names
(409: it exists); deletes (404: gone). A timeout is not repeated: a hung server would hold the caller for
several timeouts, and the callers bound their own waits."""

from __future__ import annotations

ATTEMPTS = 4  # the first and three more
TRANSIENT = frozenset({429, 500, 502, 503, 504})
FIRST_BACKOFF_S = 0.25  # doubled each time: 0.25, 0.5, 1 s
MAX_RETRY_AFTER_S = 5.0  # a longer Retry-After is capped: the caller's own deadline still holds


def delay(attempt: int, status: int | None, retry_after: str | None = None, dropped: bool = False) -> float | None:
    """Seconds to wait before trying again after attempt ``attempt`` (0-based) failed with HTTP ``status`` (its
    Retry-After header) or, with ``dropped``, a refused or reset connection; None: give up."""
    if attempt + 1 >= ATTEMPTS or not (dropped or status in TRANSIENT):
        return None
    backoff = FIRST_BACKOFF_S * 2.0 ** attempt
    if status == 429 and retry_after is not None:
        try:
            return min(MAX_RETRY_AFTER_S, max(float(retry_after), 0.0))
        except ValueError:  # an HTTP date: not what API servers send; the backoff instead
            return backoff
    return backoff
