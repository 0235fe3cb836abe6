"""Every read of status fails closed: a status made unreadable before a write lands (the 409 path: the daemon saw
the object before its status was set) ends Failed/UnreadableStatus with every fault recovered, never a
ValidationError for kopf to retry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from chaos_operator.engine.failclosed import REASON
from chaos_operator.models.status import Phase
from chaos_operator.ports import StatusConflict
from tests.unit.engine.world import CHAOS_START, World

MALFORMED = {  # as in tests/support/malformed_cases.py: out of range, so the model refuses them
    "error-rate-2.5": {"phase": "Chaos", "phases": {"chaos": {"requests": 10, "errors": 25, "errorRate": 2.5}}},
    "requests--5": {"phase": "Baseline", "phases": {"baseline": {"requests": -5}}},
}


def _malformed_after_a_conflict(world: World, status: Mapping[str, Any], at: float) -> None:
    """From virtual time ``at`` the object's status is ``status``; the next conditional write loses (409)."""
    done = False

    async def conflict(body: Mapping[str, Any]) -> None:
        nonlocal done
        if not done and world.clock.t >= at:
            done = True
            world.kube.experiments[("shop", "exp")] = {
                "metadata": {"name": "exp", "namespace": "shop", "uid": "exp-uid", "resourceVersion": "99"},
                "status": dict(status)}
            raise StatusConflict("the object has been modified")
    world.kube.before_write = conflict


@pytest.mark.parametrize("at", [0.0, CHAOS_START + 1], ids=["first-write", "mid-chaos"])
@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_a_status_unreadable_on_the_reread_after_a_conflict_fails_closed(case: str, at: float) -> None:
    world = World()
    _malformed_after_a_conflict(world, MALFORMED[case], at)
    await world.run()  # raises nothing: no ValidationError reaches kopf
    status = world.kube.status
    assert (status.phase, status.reason) == (Phase.FAILED, REASON), status.message
    assert "status" in (status.message or "") and world.fault.live() == set()
    if at > 0:  # injected before: the run's own records were recovered, and say so
        assert world.calls("recover") and all(r.state == "Recovered" for r in status.injections)
