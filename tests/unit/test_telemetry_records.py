"""The injection and recovery counters still count each record once when a coalesced write carries it past several
states (engine/coalesce.py)."""

from __future__ import annotations

from chaos_operator.adapters import telemetry
from chaos_operator.models.status import ExperimentStatus, Injection, Phase, RecordState
from chaos_operator.ports import ExperimentRef

REF = ExperimentRef("shop", "exp", "uid")
AT = "2026-12-07T14:00:00Z"


def _count(name: str, outcome: str) -> float:
    return telemetry.REGISTRY.get_sample_value(name, {"kind": "TelemetryTest", "outcome": outcome}) or 0.0


def _status(*records: Injection) -> ExperimentStatus:
    return ExperimentStatus(phase=Phase.CHAOS, injections=list(records))


def test_a_write_that_skips_states_counts_the_injection_and_the_recovery_once() -> None:
    pending = [Injection(target=f"p{i}", uid=f"u{i}", state=RecordState.PENDING) for i in range(3)]
    later = _status(
        pending[0].model_copy(update={"state": RecordState.REVERTING, "injected_at": AT}),  # Injected skipped
        pending[1].model_copy(update={"state": RecordState.RECOVERED, "injected_at": AT, "recovered_at": AT}),
        pending[2].model_copy(update={"state": RecordState.RECOVERED}))  # never applied: neither
    before = {(m, o): _count(m, o) for m in ("chaos_operator_injections_total", "chaos_operator_recoveries_total")
              for o in ("succeeded", "failed")}
    telemetry.observe_status(REF, "TelemetryTest", _status(*pending), later)
    telemetry.observe_status(REF, "TelemetryTest", later, later)  # nothing changed: nothing counted
    after = {key: _count(*key) for key in before}
    assert after[("chaos_operator_injections_total", "succeeded")] - before[
        ("chaos_operator_injections_total", "succeeded")] == 2
    assert after[("chaos_operator_recoveries_total", "succeeded")] - before[
        ("chaos_operator_recoveries_total", "succeeded")] == 1
    assert after[("chaos_operator_injections_total", "failed")] == before[("chaos_operator_injections_total", "failed")]
