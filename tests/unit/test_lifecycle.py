import pytest

from chaos_operator.engine.lifecycle import Resume, can_move, pending_recovery, resume
from chaos_operator.models.status import ExperimentStatus, Injection


@pytest.mark.parametrize(("current", "new", "ok"), [
    ("Pending", "Baseline", True), ("Baseline", "Chaos", True), ("Chaos", "Recovery", True),
    ("Recovery", "Analyzing", True), ("Analyzing", "Completed", True), ("Pending", "Completed", True),
    ("Chaos", "Aborted", True), ("Baseline", "Failed", True), ("Chaos", "Baseline", False),
    ("Completed", "Failed", False), ("Aborted", "Chaos", False), ("Failed", "Pending", False),
])
def test_can_move(current: str, new: str, ok: bool) -> None:
    assert can_move(current, new) is ok


def _status(phase: str, **kw: object) -> ExperimentStatus:
    return ExperimentStatus.model_validate({"phase": phase, **kw})


@pytest.mark.parametrize(("phase", "action"), [
    ("Completed", Resume.NOTHING), ("Aborted", Resume.NOTHING), ("Failed", Resume.NOTHING),
    ("Pending", Resume.START), ("Baseline", Resume.START),
    ("Chaos", Resume.LOST), ("Recovery", Resume.LOST),
    ("Analyzing", Resume.LOST),  # without recovery figures the analysis cannot finish
])
def test_resume(phase: str, action: Resume) -> None:
    assert resume(_status(phase)).action is action
    if action is not Resume.NOTHING:  # status places nothing in workers' data: a resumable load changes nothing
        assert resume(_status(phase), resumable=True).action is action


FIGURES = {"startedAt": "t", "finishedAt": "t", "requests": 1, "errors": 0, "errorRate": 0.0, "throughput": 1.0}
OPEN, CLOSED = {"start": 100.0}, {"start": 100.0, "end": 160.0}


@pytest.mark.parametrize(("phase", "recorded", "spans", "action"), [
    # With load workers, a run whose status places every phase measured so far in their data goes on.
    ("Baseline", (), {"baseline": OPEN}, Resume.CONTINUE),
    ("Baseline", ("baseline",), {"baseline": CLOSED}, Resume.CONTINUE),  # recorded, Chaos not entered yet
    ("Chaos", ("baseline",), {"baseline": CLOSED, "chaos": OPEN}, Resume.CONTINUE),
    ("Chaos", ("baseline", "chaos"), {"baseline": CLOSED, "chaos": CLOSED}, Resume.CONTINUE),
    ("Recovery", ("baseline", "chaos"), {"baseline": CLOSED, "chaos": CLOSED, "recovery": OPEN}, Resume.CONTINUE),
    ("Analyzing", ("baseline", "chaos", "recovery"),
     {"baseline": CLOSED, "chaos": CLOSED, "recovery": CLOSED}, Resume.CONTINUE),
    # Not placed: the phase under way has no start, or a recorded phase no end (a status an older operator wrote).
    ("Chaos", ("baseline",), {"baseline": CLOSED}, Resume.LOST),
    ("Recovery", ("baseline", "chaos"), {"baseline": CLOSED, "chaos": OPEN, "recovery": OPEN}, Resume.LOST),
    ("Baseline", (), {}, Resume.START),
    ("Analyzing", ("baseline", "chaos", "recovery"), {"baseline": CLOSED, "chaos": CLOSED}, Resume.ANALYZE),
])
def test_resume_with_load_workers(phase: str, recorded: tuple[str, ...], spans: dict[str, object],
                                  action: Resume) -> None:
    status = _status(phase, phases={name: FIGURES for name in recorded}, loadSpans=spans)
    assert resume(status, resumable=True).action is action
    if action is Resume.CONTINUE:  # the in-process load's figures died with its daemon
        assert resume(status).action is not Resume.CONTINUE


def test_resume_analyzing_with_figures() -> None:
    figures = {"startedAt": "t", "finishedAt": "t", "requests": 1, "errors": 0, "errorRate": 0.0,
               "throughput": 1.0}
    status = _status("Analyzing", phases={"recovery": figures})
    assert resume(status).action is Resume.ANALYZE


def test_pending_recovery_picks_live_records() -> None:
    states = ["Pending", "Injected", "Recovered", "Failed", "Injected"]
    status = ExperimentStatus(injections=[Injection(target=f"p{i}", uid=f"u{i}", state=s)  # type: ignore[arg-type]
                                          for i, s in enumerate(states)])
    assert pending_recovery(status) == [0, 1, 4]
