"""The records weigh on the ending: a revert that fails is retried and then fails the run, a record leaves Injected
before its revert begins, and a pass needs the fault on every target of the round."""

from __future__ import annotations

from chaos_operator.engine.chaos_window import RECOVER_TIMEOUT_S, RETRY_MAX_S
from chaos_operator.engine.deps import Deps
from chaos_operator.models.status import RecordState
from tests.unit.engine.world import CHAOS_END, World

RETRY_S = Deps.recover_retry_s


def condition(world: World, type_: str) -> tuple[str, str]:
    (found,) = [c for c in world.kube.status.conditions if c.type == type_]
    return found.status, found.reason


async def test_a_revert_that_fails_twice_is_retried_and_the_run_passes() -> None:
    world = World()
    world.fault.failing_recoveries = 2
    await world.run()
    status = world.kube.status
    assert (status.verdict, status.reason) == ("Passed", "SLOsHeld")
    assert [r.state for r in status.injections] == ["Recovered"] * 3 and world.fault.live() == set()
    failed = sorted(t for t, call, _ in world.fault.calls if call == "recover-failed")
    # A doubling backoff on the Clock: the first attempt at the end of chaos, then 1 s and 2 s later.
    assert failed == [CHAOS_END] * 3 + [CHAOS_END + 1] * 3
    assert world.calls("recover") == [CHAOS_END + 3] * 3


async def test_a_revert_that_keeps_failing_ends_failed_naming_each_target() -> None:
    world = World()
    world.fault.failing_recoveries = 1000
    await world.run()
    status = world.kube.status
    assert (status.phase, status.verdict, status.reason) == ("Completed", "Failed", "RecoveryFailed")
    assert [r.state for r in status.injections] == ["RecoveryFailed"] * 3
    assert all("checkout-" + str(i) in (status.message or "") for i in range(3)), status.message
    assert condition(world, "FaultActive") == ("True", "RecoveryFailed")  # never 'no fault is in effect'
    attempts = [t for t, call, target in world.fault.calls if call == "recover-failed" and target == "checkout-0"]
    assert attempts[-1] - attempts[0] <= RETRY_S and len(attempts) >= 5  # retried, within the budget
    assert max(b - a for a, b in zip(attempts, attempts[1:], strict=False)) <= RETRY_MAX_S
    assert "RecoveryFailed" in world.kube.reasons()


async def test_a_revert_that_hangs_every_time_gives_up_within_the_budget_plus_one_attempt() -> None:
    world = World()
    world.fault.recover_s = 10 * RECOVER_TIMEOUT_S
    await world.run()
    finished = world.kube.writes[-1][0]
    assert finished - CHAOS_END <= RETRY_S + RECOVER_TIMEOUT_S  # never a recovery without end


async def test_no_reader_sees_injected_for_a_fault_whose_revert_has_begun() -> None:
    world = World()
    world.fault.status = lambda: world.kube.status
    await world.run()
    assert world.fault.seen_on_recover == [RecordState.REVERTING] * 3
    reverting = [s for _, s in world.kube.writes if {r["state"] for r in s["injections"]} == {"Reverting"}]
    assert reverting and all(c["reason"] == "Reverting" for c in reverting[0]["conditions"]
                             if c["type"] == "FaultActive")


async def test_a_pass_with_the_fault_on_part_of_the_round_is_inconclusive() -> None:
    world = World()
    world.fault.refuse_targets = frozenset({"checkout-1"})
    await world.run()
    status = world.kube.status
    assert (status.phase, status.verdict, status.reason) == ("Completed", "Inconclusive", "PartialInjection")
    assert "held on 2 of 3 targets (checkout-1 failed)" in (status.message or "")
    assert [r.state for r in status.injections] == ["Recovered", "Failed", "Recovered"]
