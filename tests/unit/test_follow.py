"""submit --wait's outcome: exit code per terminal status, and the JUnit file CI systems read."""

from __future__ import annotations

import io
import pathlib
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from chaos_operator.cli.submit.follow import Progress, exit_code, junit
from tests.support.reports import experiment


@pytest.mark.parametrize(("status", "code"), [
    ({"phase": "Completed", "verdict": "Passed"}, 0),
    ({"phase": "Completed", "reason": "DryRun"}, 0),
    ({"phase": "Completed", "verdict": "Failed"}, 1),
    ({"phase": "Completed", "verdict": "Inconclusive"}, 2),
    ({"phase": "Aborted", "reason": "Aborted"}, 3),
    ({"phase": "Failed", "reason": "NoTargets"}, 3),
])
def test_exit_codes(status: dict[str, Any], code: int) -> None:
    assert exit_code(status) == code


def _cases(obj: dict[str, Any], code: int, tmp_path: pathlib.Path) -> list[Any]:
    path = tmp_path / "junit.xml"
    junit(obj, code, str(path))
    return list(next(iter(JUnitXml.fromfile(str(path)))))


def test_one_case_per_check_with_failures_named(tmp_path: pathlib.Path) -> None:
    cases = _cases(experiment(), 1, tmp_path)
    assert [c.name for c in cases] == ["maxErrorRate (chaos)", "maxLatencyP95 (chaos)", "recoveryWithin (experiment)"]
    assert [type(c.result[0]) if c.result else None for c in cases] == [Failure, Failure, None]


def test_an_inconclusive_check_is_skipped_with_its_reason(tmp_path: pathlib.Path) -> None:
    obj = experiment()
    why = "load coverage below 95% (requests accounted for / scheduled): chaos 66.7%"
    obj["status"]["checks"][0].update(passed=False, inconclusive=why)
    cases = _cases(obj, 2, tmp_path)
    assert isinstance(cases[0].result[0], Skipped) and why in (cases[0].result[0].message or "")


@pytest.mark.parametrize(("status", "code", "result"), [
    ({"phase": "Aborted", "reason": "Aborted", "message": "spec.abort was set"}, 3, Error),
    ({"phase": "Chaos"}, 4, Error),
    ({"phase": "Completed", "verdict": "Inconclusive", "reason": "TooFewSamples"}, 2, Skipped),
    ({"phase": "Failed", "reason": "OperatorRestarted", "message": "the load workers' data is gone"}, 3, Error),
    ({"phase": "Completed", "reason": "DryRun"}, 0, None),
])
def test_a_run_without_checks_or_verdict_gets_a_verdict_case(tmp_path: pathlib.Path, status: dict[str, Any],
                                                             code: int, result: type | None) -> None:
    obj = experiment()
    obj["status"] = status
    (case,) = _cases(obj, code, tmp_path)
    assert case.name == "verdict"
    assert [type(r) for r in case.result] == ([result] if result else [])


def test_progress_prints_each_change_once_figures_before_the_next_phase() -> None:
    out = io.StringIO()
    progress = Progress(out)
    status = experiment()["status"]
    progress.show({"phase": "Baseline", "message": "measuring the baseline"})
    progress.show({"phase": "Baseline", "message": "measuring the baseline"})
    progress.show({**status, "phase": "Chaos", "message": "injecting PodKill"})
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines[0] == "Baseline   measuring the baseline"
    assert [line.split(" figures")[0] for line in lines[1:4]] == ["baseline", "chaos", "recovery"]
    assert lines[1].startswith("baseline figures: 3000 requests, 4 errors (0.13%), p50 10ms, p95 34ms")
    assert lines[4:] == ["Chaos      injecting PodKill", "injections: 2 Recovered"]
