"""One sandbox and one real operator for the end-to-end tests (each test uses its own namespace)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chaos_sandbox import leftovers
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.operator_thread import OperatorThread


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(start_delay=0.5, max_seconds=600) as sb:
        with OperatorThread(sb.url, sb.resolver, poll_s=0.2) as operator:
            yield sb
        assert not operator.crashed, operator.error
    left = leftovers.scan(sb.token)
    assert left.empty, left.describe()
