"""How long the fault held, and what that lets the verdict claim (analysis/held.py), as a table."""

from __future__ import annotations

import pytest

from chaos_operator.analysis import held
from chaos_operator.analysis.held import Loss
from chaos_operator.models.status import FaultHeld, Injection, RecordState, Verdict

AT = "2026-01-01T00:00:30Z"


@pytest.mark.parametrize(("in_effect", "ended", "losses", "seconds", "until", "lost"), [
    (13.0, 130.0, [], 117.0, 130.0, None),  # held to the window's end
    (13.0, 23.0, [Loss("checkout-1", 23.0, AT)], 10.0, 23.0, "checkout-1"),  # the loss ended the window
    (13.0, 40.0, [Loss("b", 30.0, AT), Loss("a", 20.0, AT)], 7.0, 20.0, "a"),  # the first loss counts
    (13.0, 40.0, [Loss("late", 41.0, AT)], 27.0, 40.0, None),  # after the window's end: held to the end
    (13.0, 40.0, [Loss("early", 10.0, AT)], 0.0, 10.0, "early"),  # lost before all held: never held
])
def test_the_time_held_ends_at_the_first_loss_or_the_window_end(
        in_effect: float, ended: float, losses: list[Loss], seconds: float, until: float, lost: str | None) -> None:
    measured = held.measure(120.0, in_effect, ended, losses, 3, 3)
    assert measured is not None
    figures, held_until = measured
    assert (figures.seconds, held_until, figures.lost) == (seconds, until, lost)
    assert figures.until == (AT if lost else None)
    assert (figures.asked, figures.held_on, figures.targets) == (120.0, 3, 3)


def test_nothing_held_when_the_first_round_never_held() -> None:
    assert held.measure(120.0, None, 130.0, [], 0, 3) is None


def _held(seconds: float, lost: str | None) -> FaultHeld:
    return FaultHeld(seconds=seconds, asked=120.0, held_on=3, targets=3, lost=lost,
                     until=None if lost is None else AT)


@pytest.mark.parametrize(("figures", "verdict", "reason", "said"), [
    (None, Verdict.PASSED, "SLOsMet", "ok"),
    (_held(117.0, None), Verdict.PASSED, "SLOsMet", "ok"),  # held to the end: the verdict stands
    (_held(10.0, "checkout-1"), Verdict.INCONCLUSIVE, "FaultNotHeld",
     "the fault held 10 s of 120 s: it ended on checkout-1 at 2026-01-01T00:00:30Z, whose helper pod was lost; "
     "at least 60 s are needed to judge."),
    (_held(59.9, "checkout-1"), Verdict.INCONCLUSIVE, "FaultNotHeld", None),  # under half
    (_held(60.0, "checkout-1"), Verdict.PASSED, "SLOsMet",
     "ok (judged on the time the fault held: the fault held 60 s of 120 s: it ended on checkout-1 at "
     "2026-01-01T00:00:30Z, whose helper pod was lost)"),
])
def test_a_fault_lost_before_half_the_chaos_is_no_evidence(
        figures: FaultHeld | None, verdict: Verdict, reason: str, said: str | None) -> None:
    got = held.judge(Verdict.PASSED, "SLOsMet", "ok", figures)
    assert got[:2] == (verdict, reason)
    if said is not None:
        assert got[2] == said


def test_a_failure_is_no_evidence_either_when_the_fault_held_too_briefly() -> None:
    assert held.judge(Verdict.FAILED, "SLOsViolated", "p95", _held(5.0, "x"))[:2] == (Verdict.INCONCLUSIVE,
                                                                                       "FaultNotHeld")


@pytest.mark.parametrize(("figures", "condition"), [
    (_held(117.0, None), ("True", "FaultHeld", "3 of 3 targets held the fault for 117 s of 120 s")),
    (_held(10.0, "x"), ("False", "FaultNotHeld", f"the fault held 10 s of 120 s: it ended on x at {AT}, "
                                                  "whose helper pod was lost")),
    (_held(0.4, "x"), ("False", "FaultNotHeld", f"the fault held 0.4 s of 120 s: it ended on x at {AT}, "
                                                 "whose helper pod was lost")),  # not "0 s": it did hold
    (_held(90.0, "x"), ("False", "FaultEndedEarly", f"the fault held 90 s of 120 s: it ended on x at {AT}, "
                                                     "whose helper pod was lost")),
])
def test_the_fault_applied_condition_says_what_was_observed(figures: FaultHeld,
                                                             condition: tuple[str, str, str]) -> None:
    assert held.condition(figures) == condition


def _records(n: int, injected: bool = True) -> list[Injection]:
    return [Injection(target=f"p{i}", uid=f"uid-{i}", state=RecordState.RECOVERED,
                      injected_at=AT if injected else None) for i in range(n)]


@pytest.mark.parametrize(("instant", "helpers", "records", "said"), [
    (True, False, _records(2), "deleted 2 pod(s), UID uid-0, uid-1"),
    (True, False, _records(5), "deleted 5 pod(s), UID uid-0, uid-1, uid-2 and 2 more"),
    (False, True, _records(3), "3 helper pod(s) Ready, each agent's readiness probe saying its fault was in place; "
                               "each watched every 2 s while the window lasted"),
    (True, False, _records(2, injected=False), None),  # nothing deleted: nothing observed
])
def test_what_was_observed_of_the_fault(instant: bool, helpers: bool, records: list[Injection],
                                        said: str | None) -> None:
    assert held.observed(instant, helpers, records, 2.0) == said


def test_the_condition_carries_the_evidence() -> None:
    figures = _held(117.0, None).model_copy(update={"observed": "deleted 1 pod(s), UID u"})
    assert held.condition(figures)[2].endswith("; observed: deleted 1 pod(s), UID u")
