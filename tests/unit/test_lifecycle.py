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
    ("Chaos", Resume.RECOVER_AND_END), ("Recovery", Resume.RECOVER_AND_END),
    ("Analyzing", Resume.RECOVER_AND_END),  # without recovery figures the analysis cannot finish
])
def test_resume(phase: str, action: Resume) -> None:
    assert resume(_status(phase)).action is action


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
