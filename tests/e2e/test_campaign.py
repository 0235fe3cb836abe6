"""The kill-anywhere campaign, seeded and short: one SIGKILL of the operator per fault kind, each kind in another
stage of its experiment's life (`make chaos-campaign` runs ten per kind; docs/chaos-campaign.md has its figures).
Root only, like every test where helper pods run for real."""

from __future__ import annotations

import pathlib

import pytest

from tests.campaign.kill_anywhere import FAULTS, STAGES, campaign
from tests.support.system import why_not
from tests.support.waits import DONE

REASON = why_not()
pytestmark = [pytest.mark.skipif(REASON is not None, reason=REASON or ""), pytest.mark.timeout(600)]


def test_an_operator_killed_anywhere_leaves_every_experiment_ended_and_nothing_behind(tmp_path: pathlib.Path) -> None:
    runs, left = campaign(list(FAULTS), instants=1, seed=8, log=lambda line: print(line), work_dir=tmp_path)
    assert [r.kind for r in runs] == list(FAULTS)
    assert {r.stage for r in runs} == set(STAGES)  # five kinds, five stages
    for run in runs:
        assert run.phase in DONE, run
        assert run.ok, run
        # Picked up from the load workers' data: a run with a verdict was measured whole, the kill included.
        if run.phase == "Completed" and run.verdict:
            assert run.measured, run
    assert not left, left
