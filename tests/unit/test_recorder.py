"""Recorder: concurrent writers never lose each other's record updates, and every write is valid."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from chaos_operator.engine.recorder import Recorder
from chaos_operator.models.status import ExperimentStatus, Injection, Phase, RecordState
from chaos_operator.ports import ExperimentRef
from tests.support.clock import FakeClock


class SlowStatusApi:
    """Stores written statuses; yields inside the write so concurrent writers interleave."""

    def __init__(self) -> None:
        self.writes: list[dict[str, Any]] = []

    async def patch_experiment_status(self, namespace: str, name: str, status: Mapping[str, Any],
                                      resource_version: str | None = None) -> str | None:
        await asyncio.sleep(0.001)
        self.writes.append(dict(status))
        return None


def _recorder(api: SlowStatusApi, n: int) -> Recorder:
    status = ExperimentStatus(phase=Phase.CHAOS, injections=[
        Injection(target=f"p{i}", uid=f"u{i}", state=RecordState.PENDING) for i in range(n)])
    return Recorder(api, FakeClock(), ExperimentRef("ns", "exp", "uid"), status)  # type: ignore[arg-type]


async def test_concurrent_record_updates_are_all_kept() -> None:
    api = SlowStatusApi()
    recorder = _recorder(api, 20)
    await asyncio.gather(*(recorder.mark_injected(i, None, None) for i in range(20)))
    assert [r.state for r in recorder.status.injections] == ["Injected"] * 20
    await recorder.flush()  # coalesced: the changes after the first write wait for the flush
    assert [r["state"] for r in api.writes[-1]["injections"]] == ["Injected"] * 20
    assert len(api.writes) == 2


async def test_concurrent_appends_get_distinct_indexes() -> None:
    api = SlowStatusApi()
    recorder = _recorder(api, 0)
    pending = RecordState.PENDING
    firsts = await asyncio.gather(*(recorder.add_injections([Injection(target=f"t{i}", uid=f"v{i}", state=pending)])
                                    for i in range(10)))
    assert sorted(firsts) == list(range(10))
    assert len(recorder.status.injections) == 10


async def test_illegal_phase_change_is_refused_and_not_written() -> None:
    api = SlowStatusApi()
    recorder = _recorder(api, 0)
    with pytest.raises(ValueError):
        await recorder.enter(Phase.BASELINE, "measuring the baseline")
    assert api.writes == []


async def test_conditions_follow_phase_and_injections() -> None:
    api = SlowStatusApi()
    recorder = _recorder(api, 1)
    await recorder.mark_injected(0, None, None)
    conditions = {c.type: c.status for c in recorder.status.conditions}
    assert conditions == {"Progressing": "True", "FaultActive": "True"}
    await recorder.mark_recovered(0, None)
    await recorder.finish(Phase.ABORTED, None, "Aborted", "stopped")
    conditions = {c.type: c.status for c in recorder.status.conditions}
    assert conditions == {"Progressing": "False", "FaultActive": "False"}
