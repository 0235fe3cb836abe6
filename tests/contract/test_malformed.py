"""Malformed manifests, each a small mutation of examples/pod-kill.yaml: the CRD (strict schema + CEL) and the
models must both refuse every one, and both must name the offending field."""

from __future__ import annotations

import pytest

from chaos_operator.cli.validate.document import crd_problems, model_problems, validate_manifest
from tests.support.malformed_cases import CASES, Case
from tests.support.manifests import mutated, names_field


def test_enough_distinct_cases() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_crd_refuses_and_names_the_field(case: Case) -> None:
    problems = crd_problems(mutated(case.mutation))
    assert problems, "the CRD accepted it"
    assert names_field(problems, case.path), [str(p) for p in problems]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_models_refuse_and_name_the_field(case: Case) -> None:
    problems = model_problems(mutated(case.mutation))
    assert problems, "the models accepted it"
    assert names_field(problems, case.path), [str(p) for p in problems]


@pytest.mark.parametrize("case", CASES[::7], ids=[case.id for case in CASES[::7]])
def test_validate_manifest_reports_it(case: Case) -> None:
    assert names_field(validate_manifest(mutated(case.mutation)), case.path)
