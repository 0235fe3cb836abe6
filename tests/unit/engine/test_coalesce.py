"""Record changes are coalesced into at most two status writes a second (engine/coalesce.py), on virtual time;
what must not wait (Pending records, Reverting, a phase change, a halt, the end) is written at once, and nothing
waiting is ever lost, through a conflict or a failed write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from chaos_operator.engine.coalesce import FLUSH_S
from chaos_operator.engine.recorder import Recorder
from chaos_operator.models.status import Check, ExperimentStatus, Injection, Phase, RecordState
from chaos_operator.ports import ExperimentRef, StatusConflict
from tests.support.clock import FakeClock
from tests.support.fake_kube import FakeKube

REF = ExperimentRef("shop", "exp", "uid-1")


def _world(records: int) -> tuple[FakeClock, FakeKube, Recorder]:
    clock = FakeClock()
    kube = FakeKube(clock)
    status = ExperimentStatus(phase=Phase.CHAOS, injections=[
        Injection(target=f"p{i}", uid=f"u{i}", state=RecordState.PENDING) for i in range(records)])
    return clock, kube, Recorder(kube, clock, REF, status)  # type: ignore[arg-type]


def _states(status: Mapping[str, Any]) -> list[str]:
    return [record["state"] for record in status["injections"]]


async def test_a_thousand_record_changes_over_ten_seconds_make_at_most_two_writes_in_any_second() -> None:
    clock, kube, recorder = _world(1000)

    async def scenario() -> None:
        for i in range(1000):
            await recorder.mark_injected(i, f"helper-{i}", None)
            await clock.sleep(0.01)
        await clock.sleep(FLUSH_S)  # the last flush

    await clock.drive(scenario())
    times = [t for t, _ in kube.writes]
    assert max(sum(1 for u in times if t <= u < t + 1.0) for t in times) <= 2
    assert 10 <= len(times) <= 21  # two a second over ten seconds, not one per change
    assert _states(kube.writes[-1][1]) == ["Injected"] * 1000  # nothing lost


async def test_a_change_waits_at_most_one_flush_interval() -> None:
    clock, kube, recorder = _world(2)

    async def scenario() -> None:
        await recorder.mark_injected(0, None, None)  # the first write of this recorder: at once
        assert len(kube.writes) == 1
        await recorder.mark_injected(1, None, None)  # right after a write: waits
        assert len(kube.writes) == 1 and recorder.status.injections[1].state == RecordState.INJECTED
        await clock.sleep(FLUSH_S)

    await clock.drive(scenario())
    assert [t for t, _ in kube.writes] == [0.0, FLUSH_S]
    assert _states(kube.writes[-1][1]) == ["Injected", "Injected"]


async def test_reverting_a_phase_change_a_halt_and_the_end_are_written_at_once_with_what_waits() -> None:
    clock, kube, recorder = _world(3)
    breach = Check(name="haltWhen[0]", phase="chaos", observed="0.9", limit="0.5", passed=False)

    async def scenario() -> None:
        await recorder.mark_injected(0, "h0", None)
        for i in (1, 2):
            await recorder.mark_injected(i, f"h{i}", None)  # waiting
        assert len(kube.writes) == 1
        await recorder.mark_reverting([0, 1, 2])  # no revert may begin before this is on the server
        assert len(kube.writes) == 2 and _states(kube.writes[-1][1]) == ["Reverting"] * 3
        await recorder.mark_recovered(0, None)  # waiting
        await recorder.record_halt(breach)
        assert len(kube.writes) == 3 and _states(kube.writes[-1][1])[0] == "Recovered"
        await recorder.mark_recovered(1, None)
        await recorder.enter(Phase.RECOVERY, "measuring recovery")
        assert len(kube.writes) == 4 and kube.writes[-1][1]["phase"] == "Recovery"
        await recorder.mark_recovered(2, None)
        await recorder.finish(Phase.COMPLETED, None, "Done", "done")
        assert len(kube.writes) == 5

    await clock.drive(scenario())
    assert {t for t, _ in kube.writes} == {0.0}  # none of them waited for the clock
    assert _states(kube.writes[-1][1]) == ["Recovered"] * 3
    assert kube.status.checks == [breach]


async def test_flush_writes_what_waits_at_once() -> None:
    clock, kube, recorder = _world(2)

    async def scenario() -> None:
        await recorder.mark_injected(0, None, None)
        await recorder.mark_recovered(0, None)
        await recorder.flush()  # what recover_all ends with
        assert _states(kube.writes[-1][1]) == ["Recovered", "Pending"]
        await recorder.flush()  # nothing waits: no write

    await clock.drive(scenario())
    assert [t for t, _ in kube.writes] == [0.0, 0.0]  # the recovery phase does not wait for it


async def test_a_conflict_rebases_every_waiting_change_onto_the_other_writer() -> None:
    clock, kube, recorder = _world(4)
    theirs = ExperimentStatus(phase=Phase.CHAOS, checks=[
        Check(name="haltWhen[0]", phase="chaos", observed="1", limit="0", passed=False)],
        injections=[Injection(target=f"p{i}", uid=f"u{i}", state=RecordState.PENDING) for i in range(4)])
    kube.experiments[("shop", "exp")] = {"metadata": {"uid": "uid-1", "resourceVersion": "7"},
                                        "status": theirs.to_api()}
    conflicts = [StatusConflict("another writer")]

    async def before_write(status: Mapping[str, Any]) -> None:
        if len(kube.writes) == 1 and conflicts:
            raise conflicts.pop()

    kube.before_write = before_write

    async def scenario() -> None:
        for i in range(4):
            await recorder.mark_injected(i, None, None)
        await clock.sleep(FLUSH_S)

    await clock.drive(scenario())
    assert not conflicts
    assert _states(kube.writes[-1][1]) == ["Injected"] * 4
    assert kube.status.checks == theirs.checks  # theirs kept too


async def test_a_failed_flush_loses_nothing_the_next_write_carries_it() -> None:
    clock, kube, recorder = _world(3)
    failures = [TimeoutError("the API server did not answer")]

    async def before_write(status: Mapping[str, Any]) -> None:
        if len(kube.writes) == 1 and failures:
            raise failures.pop()

    kube.before_write = before_write

    async def scenario() -> None:
        await recorder.mark_injected(0, None, None)
        await recorder.mark_injected(1, None, None)
        await clock.sleep(2 * FLUSH_S)  # the flush fails (logged); the change stays
        assert len(kube.writes) == 1 and not failures
        await recorder.mark_injected(2, None, None)  # due at once: carries the one that failed
        assert _states(kube.writes[-1][1]) == ["Injected"] * 3

    await clock.drive(scenario())


async def test_an_illegal_phase_change_is_still_refused_and_writes_nothing() -> None:
    clock, kube, recorder = _world(1)

    async def scenario() -> None:
        await recorder.mark_injected(0, None, None)
        with pytest.raises(ValueError):
            await recorder.enter(Phase.BASELINE, "back")
        await clock.sleep(FLUSH_S)

    await clock.drive(scenario())
    assert len(kube.writes) == 1


async def test_a_conflict_keeps_a_waiting_change_that_does_not_move_the_record_on() -> None:
    clock, kube, recorder = _world(1)
    failed = Injection(target="p0", uid="u0", state=RecordState.RECOVERY_FAILED, message="first attempts failed")
    theirs = ExperimentStatus(phase=Phase.CHAOS, injections=[failed])
    kube.experiments[("shop", "exp")] = {"metadata": {"uid": "uid-1", "resourceVersion": "7"},
                                        "status": theirs.to_api()}
    conflicts = [StatusConflict("another writer")]

    async def before_write(status: Mapping[str, Any]) -> None:
        if len(kube.writes) == 1 and conflicts:
            raise conflicts.pop()

    async def scenario() -> None:
        await recorder.mark_recovery_failed(0, "first attempts failed")  # written at once
        kube.before_write = before_write
        await recorder.mark_recovery_failed(0, "a later attempt failed too")  # waits; its flush meets a 409
        await clock.sleep(FLUSH_S)

    await clock.drive(scenario())
    assert not conflicts
    assert kube.status.injections[0].message == "a later attempt failed too"
