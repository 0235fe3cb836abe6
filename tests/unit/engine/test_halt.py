"""Halts act first (engine/halt.py): on a breach the window ends and the faults are reverted before the breach is
written; the conditions are queried at once, each bounded; a status write that fails or hangs keeps no fault."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from chaos_operator.engine.chaos_window import REVERTING_WRITE_S
from chaos_operator.engine.deps import Deps
from chaos_operator.engine.prom import QUERY_TIMEOUT_S
from chaos_operator.faults.base import FaultContext
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import Injection
from tests.unit.engine.fakes import FakeMetrics, RecordingFault
from tests.unit.engine.world import CHAOS_END, CHAOS_START, World, make_spec

BREACH = CHAOS_START + 5  # from here on a query sees the breach


@dataclass
class OrderedFault(RecordingFault):
    """Notes each revert in a log it shares with the status writes."""

    order: list[str] = field(default_factory=list)

    async def recover(self, ctx: FaultContext, record: Injection) -> dict[str, Any] | None:
        self.order.append("revert")
        return await super().recover(ctx, record)


def _spec(conditions: int = 1) -> ExperimentSpec:
    return make_spec(prometheus={"url": "http://prom:9090", "haltWhen": [
        {"name": f"c{i}", "query": f"q{i}", "max": 0.5} for i in range(conditions)]})


def _metrics(world: World, slow_s: float = 0.0, breaching: str = "q0", hung: frozenset[str] = frozenset()) -> None:
    async def answer(query: str, at: datetime.datetime) -> list[float]:
        if query == "vector(1)":
            return [1.0]
        if query in hung:
            await world.clock.sleep(1e6)
        await world.clock.sleep(slow_s)
        return [1.0 if query == breaching and world.clock.t >= BREACH else 0.0]
    world.metrics = FakeMetrics(answer)


async def test_a_breach_reverts_every_fault_before_it_is_written() -> None:
    world = World()
    world.fault = fault = OrderedFault(world.clock)
    _metrics(world)

    async def note(status: Mapping[str, Any]) -> None:
        if any(check.get("name") == "c0" for check in status.get("checks") or []):
            fault.order.append("breach written")
    world.kube.before_write = note
    await world.run(_spec())
    assert fault.order.index("breach written") > max(i for i, what in enumerate(fault.order) if what == "revert")
    assert fault.order.count("revert") == 3 and fault.live() == set()
    assert BREACH <= world.calls("recover")[0] <= BREACH + Deps.halt_poll_s
    assert (world.kube.status.verdict, world.kube.status.reason) == ("Failed", "Halted")


async def test_eight_slow_conditions_halt_within_one_poll_and_one_query_timeout() -> None:
    world = World()
    _metrics(world, slow_s=QUERY_TIMEOUT_S - 1, breaching="q7")  # one after the other: 72 s a poll
    await world.run(_spec(8))
    assert BREACH <= world.calls("recover")[0] <= BREACH + Deps.halt_poll_s + QUERY_TIMEOUT_S
    assert [c.name for c in world.kube.status.checks if not c.passed][:1] == ["c7"]


async def test_hung_conditions_are_bounded_and_a_breach_is_not_held_up_by_them() -> None:
    world = World()
    _metrics(world, breaching="q7", hung=frozenset(f"q{i}" for i in range(7)))
    await world.run(_spec(8))
    assert BREACH <= world.calls("recover")[0] <= BREACH + Deps.halt_poll_s + QUERY_TIMEOUT_S
    assert [c.name for c in world.kube.status.checks if not c.passed][:1] == ["c7"]


@pytest.mark.parametrize("how", ["hangs", "fails"])
async def test_a_status_write_that_hangs_or_fails_after_a_breach_keeps_no_fault(how: str) -> None:
    world = World()
    _metrics(world)

    async def broken(status: Mapping[str, Any]) -> None:
        if world.clock.t >= BREACH:
            if how == "hangs":
                await asyncio.Event().wait()  # never answers: only the Clock's bounds end it
            raise ConnectionError("the API server is gone")
    world.kube.before_write = broken
    with pytest.raises((TimeoutError, ConnectionError)):  # kopf retries the daemon, which resumes to recover
        await world.run(_spec())
    reverted = world.calls("recover")[:3]  # then again (a no-op) on the error path
    assert len(reverted) == 3 and world.fault.live() == set()
    assert max(reverted) <= BREACH + Deps.halt_poll_s + REVERTING_WRITE_S < CHAOS_END
