"""The fault union, kind by kind: every fault field is accepted on the kinds that have it and refused, by name, on
every other kind, by the CRD and by the models alike; the kinds are the same everywhere."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import BaseModel

from chaos_operator.cli.validate.document import crd_problems, model_problems
from chaos_operator.faults.registry import FAULTS as REGISTRY
from chaos_operator.models.crd import openapi_schema
from chaos_operator.models.spec import FAULT_KINDS, ExperimentSpec
from tests.campaign.kill_anywhere import FAULTS as CAMPAIGN_FAULTS
from tests.support.malformed_cases import FAULTS
from tests.support.manifests import EXAMPLES, load_yaml, mutated, names_field, set_

# A valid value of every fault field (valid together with each kind's required fields in FAULTS).
SAMPLES: dict[str, Any] = {
    "gracePeriodSeconds": 5, "interval": "30s", "latency": "50ms", "jitter": "5ms", "correlation": 30,
    "interface": "eth0", "rate": "512kbit", "burst": "24Ki", "limit": "1Mi", "workers": 3, "load": 60, "size": "2Gi",
    "percent": 12.5, "ports": [80, 5432], "direction": "both",
    "destinations": [{"cidr": "10.96.0.0/12"}, {"service": "payments"}, {"selector": {"matchLabels": {"app": "db"}}}],
}


def _members() -> dict[str, type[BaseModel]]:
    members: dict[str, type[BaseModel]] = {}
    for model in get_args(ExperimentSpec.model_fields["fault"].annotation):
        (kind,) = get_args(model.model_fields["kind"].annotation)
        members[kind] = model
    return members


MEMBERS = _members()
FIELDS = {kind: {f.alias or name for name, f in model.model_fields.items()} - {"kind"}
          for kind, model in MEMBERS.items()}


def test_the_kinds_agree_everywhere() -> None:
    fault = openapi_schema()["properties"]["spec"]["properties"]["fault"]
    assert list(MEMBERS) == list(FAULT_KINDS) == fault["properties"]["kind"]["enum"]
    assert set(REGISTRY) == set(FAULT_KINDS)  # the registry finds faults/kinds/, in file order
    assert set(SAMPLES) == set().union(*FIELDS.values()) == set(fault["properties"]) - {"kind"}


def test_every_list_of_kinds_in_the_tests_is_whole() -> None:
    # The per-kind test data (the campaign's faults, the malformed manifests' bases) lists kinds by hand.
    assert set(CAMPAIGN_FAULTS) == set(FAULT_KINDS)
    assert list(FAULTS) == list(FAULT_KINDS)


def test_every_kind_has_an_example() -> None:
    kinds = {doc["spec"]["fault"]["kind"] for path in EXAMPLES for doc in load_yaml(path)}
    assert kinds == set(FAULT_KINDS)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_kind_with_all_its_fields_is_valid(kind: str) -> None:
    fault = {**FAULTS[kind], **{name: SAMPLES[name] for name in FIELDS[kind]}}
    doc = mutated(set_("spec.fault", fault))
    assert crd_problems(doc) == [] and model_problems(doc) == []
    assert ExperimentSpec.model_validate(doc["spec"]).fault.to_api() == fault


@pytest.mark.parametrize(("kind", "field"), [(k, f) for k in FAULT_KINDS for f in SAMPLES])
def test_a_field_is_accepted_exactly_on_its_kinds(kind: str, field: str) -> None:
    doc = mutated(set_("spec.fault", {**FAULTS[kind], field: SAMPLES[field]}))
    for problems in (crd_problems(doc), model_problems(doc)):
        if field in FIELDS[kind]:
            assert problems == []
        else:
            assert names_field(problems, f"spec.fault.{field}"), [str(p) for p in problems]


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_required_fields_are_required_on_both_sides(kind: str) -> None:
    required = {f.alias or n for n, f in MEMBERS[kind].model_fields.items() if f.is_required()} - {"kind"}
    assert required == set(FAULTS[kind]) - {"kind"}
    for field in required:
        doc = mutated(set_("spec.fault", {k: v for k, v in FAULTS[kind].items() if k != field}))
        for problems in (crd_problems(doc), model_problems(doc)):
            assert names_field(problems, f"spec.fault.{field}"), [str(p) for p in problems]
