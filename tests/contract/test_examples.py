"""Every example is valid for the CRD (strict schema + CEL) and for the models, before and after a round trip
through the models; the CRD's defaults are the models' defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaos_operator.cli.validate.cel import (
    PathPart,
    Schema,
    apply_defaults,
    evaluate_rule,
    format_path,
    iter_rules,
    to_cel,
)
from chaos_operator.cli.validate.document import crd_problems, model_problems, validate_manifest
from chaos_operator.models.crd import openapi_schema
from chaos_operator.models.spec import ExperimentSpec
from tests.support.manifests import EXAMPLES, load_yaml

IDS = [path.name for path in EXAMPLES]
MINIMAL: dict[str, Any] = {
    "target": {"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}},
    "fault": {"kind": "PodKill"},
    "load": {"service": {"name": "checkout", "port": 8080}},
    "prometheus": {"url": "http://prometheus:9090", "queries": [{"name": "q", "query": "up", "min": 1}]},
}
# Kind-specific fault fields carry no schema default (it would land on every other kind); the models default them.
UNDEFAULTED_IN_CRD = {"fault.gracePeriodSeconds"}


def test_the_pod_kill_examples_exist_and_explain_themselves() -> None:
    names = {path.name for path in EXAMPLES}
    assert {"pod-kill.yaml", "pod-kill-repeat.yaml", "pod-kill-dry-run.yaml"} <= names
    for path in EXAMPLES:
        assert path.read_text(encoding="utf-8").startswith("# "), f"{path.name} needs a comment header"


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_example_is_valid_for_crd_and_models(path: Path) -> None:
    docs = load_yaml(path)
    assert docs
    for doc in docs:
        assert crd_problems(doc) == []
        assert model_problems(doc) == []
        assert validate_manifest(doc) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_model_round_trip_is_valid_for_the_crd(path: Path) -> None:
    for doc in load_yaml(path):
        spec = ExperimentSpec.model_validate(doc["spec"])
        wire = spec.to_api()  # defaults included
        assert crd_problems({**doc, "spec": wire}) == []
        assert ExperimentSpec.model_validate(wire) == spec


def _leaves(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict) and value:
        return set().union(*(_leaves(v, f"{prefix}.{k}" if prefix else k) for k, v in value.items()))
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return set().union(*(_leaves(v, f"{prefix}[]") for v in value))
    return {prefix}


def test_crd_defaults_are_the_model_defaults() -> None:
    defaulted = apply_defaults(openapi_schema(), {"spec": MINIMAL})["spec"]
    model = ExperimentSpec.model_validate(MINIMAL)
    assert ExperimentSpec.model_validate(defaulted) == model
    assert _leaves(defaulted) | UNDEFAULTED_IN_CRD == _leaves(model.to_api())
    assert defaulted["phases"] == {"baseline": "1m", "chaos": "2m", "recovery": "1m"}
    assert crd_problems({"spec": MINIMAL}) == [] and model_problems({"spec": MINIMAL}) == []


def _evaluations(schema: Schema, value: Any, path: tuple[PathPart, ...], out: dict[str, list[bool | str]]) -> None:
    """Outcome of every rule at every node of ``value`` (keyed like iter_rules: schema path + rule)."""
    for rule in schema.get("x-kubernetes-validations") or []:
        out.setdefault(f"{format_path(path)} {rule['rule']}", []).append(evaluate_rule(rule["rule"],
                                                                                        to_cel(schema, value)))
    if isinstance(value, dict):
        for key, child in value.items():
            props = schema.get("properties") or {}
            if key in props:
                _evaluations(props[key], child, (*path, key), out)
            elif isinstance(schema.get("additionalProperties"), dict):
                _evaluations(schema["additionalProperties"], child, (*path, "<additionalProperties>"), out)
    elif isinstance(value, list):
        for child in value:
            _evaluations(schema["items"], child, (*path, "<items>"), out)


def test_every_cel_rule_runs_and_holds_on_the_examples() -> None:
    schema = openapi_schema()
    outcomes: dict[str, list[bool | str]] = {}
    for path in EXAMPLES:
        for doc in load_yaml(path):
            _evaluations(schema, apply_defaults(schema, doc), (), outcomes)
    for where, rule in iter_rules(schema):
        results = outcomes.get(f"{where} {rule['rule']}")
        assert results, f"no example exercises the rule at {where}: {rule['rule']}"
        assert all(result is True for result in results), (where, rule["rule"], results)
