"""A helper lost mid-chaos ends the time the fault held, on a virtual clock (World: world.py)."""

from __future__ import annotations

from chaos_operator.engine.deps import Deps
from chaos_operator.models.status import ExperimentStatus, RecordState, Verdict
from chaos_operator.models.timestamps import parse_time
from tests.support.clock import EPOCH
from tests.unit.engine.world import CHAOS, CHAOS_START, World


async def test_a_helper_lost_early_ends_the_window_and_the_run_is_inconclusive() -> None:
    world = World()
    world.fault.lose_at = {"checkout-1": CHAOS_START + 4}
    await world.run()
    status = world.kube.status
    assert (status.phase, status.verdict, status.reason) == ("Completed", Verdict.INCONCLUSIVE, "FaultNotHeld")
    chaos = status.phases.chaos
    assert chaos is not None and chaos.fault_held is not None
    held = chaos.fault_held
    # Found at the tender's first poll at or after the loss: held at most one poll longer.
    assert 4 <= held.seconds <= 4 + Deps.poll_s
    assert (held.asked, held.held_on, held.targets, held.lost) == (CHAOS, 3, 3, "checkout-1")
    assert status.message is not None and status.message.startswith(f"the fault held {held.seconds:.1f} s of 20 s")
    assert chaos.requests <= 50 * (4 + Deps.poll_s + 1)  # the chaos figures stop at the loss
    # Every fault is reverted at the loss, and the recovery phase follows at once.
    assert [r.state for r in status.injections] == [RecordState.RECOVERED] * 3
    assert all(CHAOS_START + 4 <= t <= CHAOS_START + 4 + Deps.poll_s for t in world.calls("recover"))
    assert (status.score, status.grade) == (None, None)
    applied = next(c for c in status.conditions if c.type == "FaultApplied")
    assert (applied.status, applied.reason) == ("False", "FaultNotHeld")
    comparisons = {c.comparison: c.samples for c in status.analysis if c.metric == "errorRate"}
    assert comparisons["baselineVsChaos"] <= 50 * (4 + Deps.poll_s)  # only whole seconds while it held


async def test_a_helper_lost_late_leaves_the_verdict_judged_on_the_time_held() -> None:
    world = World()
    world.fault.lose_at = {"checkout-2": CHAOS_START + 15}
    await world.run()
    status = world.kube.status
    assert (status.verdict, status.reason) == (Verdict.PASSED, "SLOsHeld")  # 15 s of 20 s: over half
    assert status.message is not None and "judged on the time the fault held" in status.message
    applied = next(c for c in status.conditions if c.type == "FaultApplied")
    assert (applied.status, applied.reason) == ("False", "FaultEndedEarly")


async def test_a_fault_held_to_the_end_says_so() -> None:
    world = World()
    await world.run()
    status = world.kube.status
    assert status.verdict == Verdict.PASSED
    chaos = status.phases.chaos
    assert chaos is not None and chaos.fault_held is not None
    assert (chaos.fault_held.seconds, chaos.fault_held.lost, chaos.fault_held.until) == (CHAOS, None, None)
    applied = next(c for c in status.conditions if c.type == "FaultApplied")
    assert (applied.status, applied.reason, applied.message) == (
        "True", "FaultHeld", "3 of 3 targets held the fault for 20 s of 20 s; observed: 3 target(s) injected")


def _offsets(status: ExperimentStatus) -> list[tuple[float, float, float]]:
    """Each record's (injectedAt, heldUntil, recoveredAt) in seconds of virtual time."""
    def t(text: str | None) -> float:
        assert text is not None
        return (parse_time(text) - EPOCH).total_seconds()
    return [(t(r.injected_at), t(r.held_until), t(r.recovered_at)) for r in status.injections]


async def test_each_target_says_when_its_fault_held() -> None:
    world = World()
    await world.run()
    intervals = _offsets(world.kube.status)
    assert len(intervals) == 3
    for injected, held_until, recovered in intervals:
        assert CHAOS_START <= injected <= CHAOS_START + 1
        assert held_until == CHAOS_START + CHAOS  # the window's end: its revert began then
        assert held_until <= recovered


async def test_a_lost_helper_ends_its_targets_interval_when_it_was_found() -> None:
    world = World()
    world.fault.lose_at = {"checkout-1": CHAOS_START + 4}
    await world.run()
    status = world.kube.status
    held = {r.target: interval for r, interval in zip(status.injections, _offsets(status), strict=True)}
    _, lost_until, _ = held["checkout-1"]
    assert CHAOS_START + 4 <= lost_until <= CHAOS_START + 4 + Deps.poll_s  # at most one poll after the loss
    assert all(injected <= until <= recovered for injected, until, recovered in held.values())
