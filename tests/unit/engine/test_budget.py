"""Status stays under its byte budget with 1,000 targets (engine/budget.py), and what may still hold a fault keeps
everything recovery and fail-closed read."""

from __future__ import annotations

from chaos_operator.engine import budget
from chaos_operator.engine.failclosed import live_records
from chaos_operator.models.status import (
    STATUS_BUDGET,
    ExperimentStatus,
    Injection,
    Phase,
    RecordState,
    Summarised,
    TargetRef,
)

UID = "6c1a3e52-1f9e-4a57-9d1c-{:012d}"
LONG = "x" * 300  # a long failure message


def _status(states: list[RecordState], message: str = "helper pod chaos-net-checkout-latency-0123456789 holds it"
            ) -> ExperimentStatus:
    names = [f"checkout-7d9f8c6b5-{i:05d}" for i in range(len(states))]
    return ExperimentStatus(
        phase=Phase.CHAOS,
        targets=[TargetRef(name=n, uid=UID.format(i), node_name="node-1", pod_ip="10.244.1.17")
                 for i, n in enumerate(names)],
        injections=[Injection(target=n, uid=UID.format(i), state=state,
                              helper_pod=f"chaos-net-checkout-latency-{i:010d}",
                              injected_at="2026-12-07T14:00:00Z",
                              recovered_at="2026-12-07T14:02:00Z" if state == RecordState.RECOVERED else None,
                              message=message)
                    for i, (n, state) in enumerate(zip(names, states, strict=True))])


def test_a_small_status_is_left_as_it_is() -> None:
    status = _status([RecordState.INJECTED] * 10)
    assert budget.fit(status) is status


def test_a_thousand_live_records_fit_and_keep_what_recovery_reads() -> None:
    status = _status([RecordState.INJECTED] * 500 + [RecordState.RECOVERY_FAILED] * 500, message=LONG)
    assert budget.size(status) > 2 * STATUS_BUDGET
    fitted = budget.fit(status)
    assert budget.size(fitted) <= STATUS_BUDGET
    assert len(fitted.injections) == 1000
    for before, after in zip(status.injections, fitted.injections, strict=True):
        assert (after.target, after.uid, after.state, after.helper_pod, after.injected_at) == \
            (before.target, before.uid, before.state, before.helper_pod, before.injected_at)
    assert fitted.targets == []  # each target is named by its record
    assert fitted.summarised is not None and fitted.summarised.targets == 1000
    assert fitted.summarised.records == 0 and 0 < fitted.summarised.messages <= 1000
    assert sum(1 for r in fitted.injections if r.message is None) == fitted.summarised.messages
    # fail-closed finds every live record, with its helper pod, in what was written
    found = live_records(fitted.to_api())
    assert [(r.uid, r.helper_pod) for r in found] == [(r.uid, r.helper_pod) for r in status.injections]


def test_finished_records_are_summarised_first_and_only_as_far_as_needed() -> None:
    status = _status([RecordState.RECOVERED] * 900 + [RecordState.INJECTED] * 100, message=LONG)
    fitted = budget.fit(status)
    assert budget.size(fitted) <= STATUS_BUDGET
    assert fitted.summarised is not None and fitted.summarised.messages == 0  # live messages kept
    assert 0 < fitted.summarised.records < 900  # only as many finished records as the budget needed
    live = [r for r in fitted.injections if r.state == RecordState.INJECTED]
    assert all(r.message == LONG and r.helper_pod for r in live)
    trimmed = [r for r in fitted.injections if r.message is None]
    assert all(r.state == RecordState.RECOVERED and r.recovered_at and r.injected_at for r in trimmed)


def test_counts_of_an_earlier_write_are_kept() -> None:
    status = _status([RecordState.RECOVERED] * 1000, message=LONG).model_copy(
        update={"summarised": Summarised(targets=5, records=7, messages=1)})
    fitted = budget.fit(status)
    assert fitted.summarised is not None
    assert (fitted.summarised.targets, fitted.summarised.messages) == (1005, 1)
    assert fitted.summarised.records == 7 + sum(1 for r in fitted.injections if r.message is None)
