"""A running sandbox per test; after it stops, nothing of its run may be left."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from chaos_sandbox import leftovers
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.node.podnet import netns_supported

NETNS, WHY_NOT = netns_supported()
needs_netns = pytest.mark.skipif(not NETNS, reason=f"network namespaces need root: {WHY_NOT}")


@pytest.fixture
def sandbox(tmp_path: pathlib.Path) -> Iterator[Sandbox]:
    with Sandbox(start_delay=0.3, max_seconds=300, work_dir=tmp_path) as sb:
        yield sb
    left = leftovers.scan(sb.token)
    assert left.empty, left.describe()
