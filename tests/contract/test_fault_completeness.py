"""Every fault kind the CRD offers is complete: a model, a registry entry, an example, a docs section and, when it
runs the agent, an agent mode that accepts the argv its module builds (docs/adding-a-fault.md)."""

from __future__ import annotations

import re
from typing import Any, get_args

import pytest

from chaos_operator.agent import cli, modes
from chaos_operator.faults.helpers.pod import HelperPodFault
from chaos_operator.faults.registry import FAULTS
from chaos_operator.models.crd import openapi_schema
from chaos_operator.models.spec import ExperimentSpec
from tests.support import faultpods
from tests.support.manifests import EXAMPLES, REPO, load_yaml

UID = "0d5e8f3a-91c2-4b7e-8a61-5f2c9d7e3b10"
CRD_KINDS: list[str] = openapi_schema()["properties"]["spec"]["properties"]["fault"]["properties"]["kind"]["enum"]
DOCS = (REPO / "docs" / "faults.md").read_text(encoding="utf-8")


def example_fault(kind: str) -> Any:
    for path in EXAMPLES:
        for doc in load_yaml(path):
            if doc["spec"]["fault"]["kind"] == kind:
                return ExperimentSpec.model_validate(doc["spec"]).fault
    return None


def test_the_crd_offers_kinds() -> None:
    assert len(CRD_KINDS) >= 9 and len(set(CRD_KINDS)) == len(CRD_KINDS)


@pytest.mark.parametrize("kind", CRD_KINDS)
def test_every_crd_kind_is_complete(kind: str) -> None:
    models = {get_args(m.model_fields["kind"].annotation)[0]: m
              for m in get_args(ExperimentSpec.model_fields["fault"].annotation)}
    assert kind in models, f"{kind}: no model in the Fault union"
    assert kind in FAULTS and FAULTS[kind].kind == kind, f"{kind}: no registry entry"
    fault = example_fault(kind)
    assert isinstance(fault, models[kind]), f"{kind}: no example in examples/"
    assert re.search(rf"^## {kind}$", DOCS, re.M), f"{kind}: no '## {kind}' section in docs/faults.md"
    impl = FAULTS[kind]
    if isinstance(impl, HelperPodFault):  # it runs the agent: a mode of the agent's table takes its argv
        destinations = ("10.0.0.0/8",) if kind == "NetworkPartition" else ()
        argv = faultpods.argv(fault, UID, 60.0, "fault", UID if impl.needs_revert else None, destinations)
        assert argv[0] in modes.MODES, f"{kind}: agent mode {argv[0]} is not in the agent's table"
        modes.plan(cli.build_parser().parse_args(argv))


def test_every_agent_mode_is_used_by_a_fault() -> None:
    used = set()
    for kind in CRD_KINDS:
        impl = FAULTS[kind]
        if isinstance(impl, HelperPodFault):
            destinations = ("10.0.0.0/8",) if kind == "NetworkPartition" else ()
            used.add(faultpods.argv(example_fault(kind), UID, 60.0, "fault", None, destinations)[0])
    assert used == set(modes.MODES)
