"""adapters/retry.py: which failures are tried again, and after how long."""

from __future__ import annotations

import pytest

from chaos_operator.adapters import retry


@pytest.mark.parametrize(("attempt", "status", "retry_after", "dropped", "wait"), [
    (0, 429, "1", False, 1.0),  # the server says how long
    (0, 429, "60", False, retry.MAX_RETRY_AFTER_S),  # capped: the caller's deadline still holds
    (0, 429, None, False, 0.25),  # no header: the backoff
    (0, 429, "Wed, 21 Oct 2026 07:28:00 GMT", False, 0.25),  # an HTTP date: the backoff
    (0, 500, None, False, 0.25),
    (1, 503, None, False, 0.5),
    (2, 504, None, False, 1.0),
    (3, 500, None, False, None),  # four attempts in all
    (0, None, None, True, 0.25),  # refused or reset
    (0, 409, None, False, None),  # a conflict is an answer, not a hiccup
    (0, 404, None, False, None),
    (0, 403, None, False, None),
    (0, 422, None, False, None),
    (0, None, None, False, None),  # a timeout or anything else: not repeated
])
def test_delay(attempt: int, status: int | None, retry_after: str | None, dropped: bool,
               wait: float | None) -> None:
    assert retry.delay(attempt, status, retry_after, dropped) == wait
