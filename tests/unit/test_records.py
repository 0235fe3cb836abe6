"""analysis/records.py, as a table: what an ending may claim given its injection records."""

from __future__ import annotations

import pytest

from chaos_operator.analysis.records import weigh
from chaos_operator.models.status import Injection, Phase, RecordState, Verdict

AT = "2026-01-01T00:00:00Z"


def rec(target: str, state: RecordState, held: bool = True) -> Injection:
    return Injection(target=target, uid=f"uid-{target}", state=state, injected_at=AT if held else None)


OK = [rec("a", RecordState.RECOVERED), rec("b", RecordState.RECOVERED)]
PARTIAL = [rec("a", RecordState.RECOVERED), rec("b", RecordState.FAILED, held=False)]

TABLE = [
    # phase, verdict, reason, records -> verdict, reason
    (Phase.COMPLETED, Verdict.PASSED, "SLOsHeld", OK, Verdict.PASSED, "SLOsHeld"),
    (Phase.COMPLETED, Verdict.PASSED, "SLOsHeld", PARTIAL, Verdict.INCONCLUSIVE, "PartialInjection"),
    (Phase.COMPLETED, Verdict.FAILED, "SLOsViolated", PARTIAL, Verdict.FAILED, "SLOsViolated"),
    (Phase.COMPLETED, Verdict.PASSED, "SLOsHeld", [*OK, rec("c", RecordState.RECOVERY_FAILED)],
     Verdict.FAILED, "RecoveryFailed"),
    (Phase.COMPLETED, Verdict.INCONCLUSIVE, "OperatorRestarted", [rec("a", RecordState.REVERTING)],
     Verdict.FAILED, "RecoveryFailed"),
    (Phase.COMPLETED, Verdict.PASSED, "SLOsHeld", [rec("a", RecordState.INJECTED)], Verdict.FAILED, "RecoveryFailed"),
    (Phase.ABORTED, None, "AbortRequested", [rec("a", RecordState.RECOVERY_FAILED)], None, "RecoveryFailed"),
    (Phase.FAILED, None, "OperatorError", [rec("a", RecordState.PENDING, held=False)], None, "OperatorError"),
    (Phase.ABORTED, None, "AbortRequested", PARTIAL, None, "AbortRequested"),
    # A Pending record recovered before it was applied (a stop mid-round) never held: it is not a target missed.
    (Phase.COMPLETED, Verdict.PASSED, "SLOsHeld", [*OK, rec("c", RecordState.RECOVERED, held=False)],
     Verdict.PASSED, "SLOsHeld"),
]


@pytest.mark.parametrize(("phase", "verdict", "reason", "records", "want_verdict", "want_reason"), TABLE)
def test_weigh(phase: Phase, verdict: Verdict | None, reason: str, records: list[Injection],
               want_verdict: Verdict | None, want_reason: str) -> None:
    said = weigh(phase, verdict, reason, "the figures' own message.", records)
    assert (said.verdict, said.reason) == (want_verdict, want_reason)
    assert said.message.endswith("the figures' own message.") or said.message.startswith("the figures'")
    if want_reason == "RecoveryFailed" or (phase == Phase.FAILED and records):
        assert "may still be in effect" in said.message and records[-1].target in said.message


def test_many_stuck_targets_are_counted_past_the_first_few() -> None:
    records = [rec(f"pod-{i}", RecordState.RECOVERY_FAILED) for i in range(12)]
    said = weigh(Phase.COMPLETED, Verdict.PASSED, "SLOsHeld", "", records)
    assert "pod-0, pod-1, pod-2, pod-3, pod-4 and 7 more" in said.message
