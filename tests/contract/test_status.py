"""Everything the operator writes into .status is in the CRD's status schema: the API server prunes the rest."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from chaos_operator.cli.validate.document import crd_problems, model_problems
from chaos_operator.models.status import (
    ExperimentStatus,
)
from tests.support.manifests import base_manifest
from tests.support.statuses import full_status


def _unset(value: Any, path: str = "status") -> list[str]:
    """Fields left None or empty anywhere in a model tree."""
    if value is None or value == []:
        return [path]
    if isinstance(value, BaseModel):
        return [p for name in type(value).model_fields for p in _unset(getattr(value, name), f"{path}.{name}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _unset(item, f"{path}[{i}]")]
    return []


# Filled only on a run the full status is not (LowCoverage): its own test below.
ONLY_INCONCLUSIVE = ".inconclusive"
# A split and a whole instant exist for the chaos phase only.
CHAOS_ONLY = tuple(f"status.load_spans.{phase}.{name}" for phase in ("baseline", "recovery")
                   for name in ("split", "whole"))


def test_the_full_status_fills_every_field() -> None:
    assert [p for p in _unset(full_status()) if not p.endswith(ONLY_INCONCLUSIVE) and p not in CHAOS_ONLY] == []


def test_an_inconclusive_check_is_valid_for_the_crd() -> None:
    status = full_status()
    checks = [c.model_copy(update={"passed": False, "inconclusive": "load coverage below 95% "
                                   "(requests accounted for / scheduled): chaos 66.1%"}) for c in status.checks]
    doc = {**base_manifest(), "status": status.model_copy(update={"checks": checks}).to_api()}
    assert crd_problems(doc) == []
    assert model_problems(doc) == []


def test_full_status_is_valid_for_the_crd_and_survives_a_round_trip() -> None:
    status = full_status()
    doc = {**base_manifest(), "status": status.to_api()}
    assert crd_problems(doc) == []  # strict: any field missing from the schema would be reported as unknown
    assert model_problems(doc) == []
    wire = status.to_api()
    assert ExperimentStatus.model_validate(wire).to_api() == wire  # the wire form is stable (durations rounded)


def test_the_initial_status_is_valid_for_the_crd() -> None:
    doc = {**base_manifest(), "status": ExperimentStatus().to_api()}
    assert crd_problems(doc) == [] and model_problems(doc) == []


def test_status_fields_are_checked_on_both_sides() -> None:
    wire: dict[str, Any] = json.loads(json.dumps(full_status().to_api()))
    wire["score"] = 101
    wire["phases"]["chaos"]["latency"]["p95"] = "812 ms"
    wire["conditions"][0]["reason"] = "not camel case"
    wire["extra"] = True
    doc = {**base_manifest(), "status": wire}
    for problems in (crd_problems(doc), model_problems(doc)):
        paths = {p.path for p in problems}
        assert {"status.score", "status.phases.chaos.latency.p95", "status.conditions[0].reason",
                "status.extra"} <= paths, paths
