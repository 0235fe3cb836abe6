"""One sandbox per test module (each test uses its own namespace) and the real operator per test; after the
sandbox stops, nothing of its run may be left."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from chaos_sandbox import leftovers
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.operator_thread import OperatorThread


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(start_delay=0.5, max_seconds=600, work_dir=tmp_path_factory.mktemp("e2e")) as sb:
        yield sb
    left = leftovers.scan(sb.token)
    assert left.empty, left.describe()


@pytest.fixture
def operator(box: Sandbox) -> Iterator[OperatorThread]:
    # The readiness bound is generous for the kernel VM tier, where Python runs under software emulation.
    # The load is sent by load workers, the operator's default; CHAOS_E2E_LOAD_RUNNER=inprocess runs these tests
    # with the load sent from the operator's own event loop (docs/testing.md).
    runner = os.environ.get("CHAOS_E2E_LOAD_RUNNER", "workers")
    with OperatorThread(box.url, box.resolver, ready_timeout=120, load_runner=runner) as op:
        yield op
