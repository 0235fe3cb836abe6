"""The conflict rule (engine/conflict.py), row by row: a stale write re-applies only what it changed and never
moves the phase or a record backwards."""

from __future__ import annotations

from typing import Any

import pytest

from chaos_operator.engine.conflict import rebase
from chaos_operator.models.status import ExperimentStatus


def status(phase: str = "Chaos", records: tuple[str, ...] = (), **extra: Any) -> ExperimentStatus:
    injections = [{"target": f"p{i}", "uid": f"u{i}", "state": state} for i, state in enumerate(records)]
    return ExperimentStatus.model_validate({"phase": phase, "injections": injections, **extra})


ROWS = [
    # (why, base, mine, theirs, expected phase, expected records, expected extra fields)
    ("nobody else wrote: mine as is",
     status("Chaos"), status("Recovery", message="measuring"), status("Chaos"),
     "Recovery", (), {"message": "measuring"}),
    ("they added a record meanwhile: my phase and their record",
     status("Chaos", ("Injected",)), status("Recovery", ("Injected",)), status("Chaos", ("Injected", "Pending")),
     "Recovery", ("Injected", "Pending"), {}),
    ("they finished it: my forward move is dropped, their ending stays",
     status("Chaos"), status("Recovery", message="measuring"),
     status("Completed", verdict="Inconclusive", reason="OperatorRestarted", message="restarted"),
     "Completed", (), {"reason": "OperatorRestarted", "message": "restarted", "verdict": "Inconclusive"}),
    ("they aborted it: my completion does not replace the abort",
     status("Analyzing"), status("Completed", verdict="Passed", reason="SLOsHeld", message="ok"),
     status("Aborted", reason="Aborted", message="spec.abort"),
     "Aborted", (), {"reason": "Aborted", "verdict": None}),
    ("a stale writer never moves the phase backwards",
     status("Pending"), status("Baseline", reason="Running"), status("Chaos", reason="Running"),
     "Chaos", (), {}),
    ("they moved ahead, I fail it: Failed is a legal move from any running phase",
     status("Chaos"), status("Failed", reason="OperatorError", message="boom"), status("Recovery"),
     "Failed", (), {"reason": "OperatorError"}),
    ("my record recovered, theirs still injected: recovered wins",
     status("Chaos", ("Injected",)), status("Chaos", ("Recovered",)), status("Chaos", ("Injected",), seed=3),
     "Chaos", ("Recovered",), {"seed": 3}),
    ("a stale record never goes backwards: their Recovered stays",
     status("Chaos", ("Pending",)), status("Chaos", ("Injected",)), status("Chaos", ("Recovered",)),
     "Chaos", ("Recovered",), {}),
    ("a finished record is never replaced, even by another finished state",
     status("Chaos", ("Injected",)), status("Chaos", ("Failed",)), status("Chaos", ("Recovered",)),
     "Chaos", ("Recovered",), {}),
    ("records I appended go after the ones they appended",
     status("Chaos", ("Injected",)), status("Chaos", ("Injected", "Pending")),
     status("Chaos", ("Injected", "Injected")),
     "Chaos", ("Injected", "Injected", "Pending"), {}),
    ("fields I did not change keep theirs; fields I changed keep mine",
     status("Chaos", seed=1, readyBefore=3), status("Chaos", seed=1, readyBefore=2),
     status("Chaos", seed=9, readyBefore=3),
     "Chaos", (), {"seed": 9, "ready_before": 2}),
    ("on a finished status only records move on: my figures are dropped",
     status("Recovery", ("Injected",)), status("Recovery", ("Recovered",), recoveryTime="3s"),
     status("Failed", ("Injected",), reason="OperatorError"),
     "Failed", ("Recovered",), {"recovery_time": None}),
    ("a record they marked Reverting is not moved back to Injected by mine",
     status("Chaos", ("Pending",)), status("Chaos", ("Injected",)), status("Chaos", ("Reverting",)),
     "Chaos", ("Reverting",), {}),
    ("a RecoveryFailed record is not final: a later recovery of mine moves it on",
     status("Recovery", ("Reverting",)), status("Recovery", ("Recovered",)), status("Recovery", ("RecoveryFailed",)),
     "Recovery", ("Recovered",), {}),
    ("a Recovered record of theirs stays: my failed retry does not undo it",
     status("Recovery", ("Reverting",)), status("Recovery", ("RecoveryFailed",)), status("Recovery", ("Recovered",)),
     "Recovery", ("Recovered",), {}),
]


@pytest.mark.parametrize(("why", "base", "mine", "theirs", "phase", "records", "fields"), ROWS,
                         ids=[row[0] for row in ROWS])
def test_rebase(why: str, base: ExperimentStatus, mine: ExperimentStatus, theirs: ExperimentStatus, phase: str,
                records: tuple[str, ...], fields: dict[str, Any]) -> None:
    result = rebase(base, mine, theirs)
    assert result.phase == phase
    assert tuple(r.state for r in result.injections) == records
    for name, value in fields.items():
        assert getattr(result, name) == value, name
