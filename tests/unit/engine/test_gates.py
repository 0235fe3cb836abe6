"""Gates the runner consults before anything is touched: a fault kind disabled in this installation (the chart's
faults.podKill.enabled=false, which also withholds pods delete in tenant namespaces) ends Failed/FaultDisabled."""

from __future__ import annotations

from chaos_operator.engine.gating import Gates
from tests.unit.engine.world import World, make_spec


async def test_a_disabled_fault_kind_is_refused_before_anything_is_touched() -> None:
    world = World(gates=Gates(disabled_faults=frozenset({"PodKill"})))
    await world.run(make_spec())  # a PodKill experiment
    status = world.kube.status
    assert (status.phase, status.reason) == ("Failed", "FaultDisabled")
    assert status.message is not None and "PodKill is disabled" in status.message
    assert world.fault.calls == [] and world.loads_opened == 0


async def test_other_kinds_still_run() -> None:
    world = World(gates=Gates(disabled_faults=frozenset({"CPUStress"})))
    await world.run(make_spec())
    assert world.kube.status.phase == "Completed" and world.fault.calls
