"""Custom objects written over HTTP are checked like a real API server checks them: schema and CEL rules (422 with
a cause per field), unknown fields pruned with a warning, defaults applied, unchanged fields ratcheted; and the
switch that turns it off."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from chaos_sandbox.emulator import Emulator, EmulatorThread

from chaos_operator.models.crd import load_crd as chaos_crd
from tests.emulator.http import call

EXAMPLE = yaml.safe_load((pathlib.Path(__file__).parents[2] / "examples" / "pod-kill.yaml").read_text())
NS = "shop"
PATH = f"/apis/chaosoperator.dev/v1alpha1/namespaces/{NS}/chaosexperiments"


def experiment(**spec_changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(EXAMPLE)
    doc["metadata"] = {"name": "e1"}
    doc["spec"].update(spec_changes)
    return doc


def test_schema_and_cel_problems_are_422_with_causes(validating_emulator: EmulatorThread) -> None:
    bad = experiment(target={"selector": {"matchLabels": {"app": "x"}}, "mode": "fixed"}, dryRun="yes")
    code, body, _ = call(validating_emulator, "POST", PATH, bad)
    assert code == 422 and body["kind"] == "Status" and body["reason"] == "Invalid"
    fields = {cause["field"] for cause in body["details"]["causes"]}
    assert fields == {"spec.dryRun", "spec.target.value"}  # a type error, and a CEL rule (mode fixed needs a value)
    assert body["details"]["name"] == "e1" and body["details"]["kind"] == "ChaosExperiment"
    assert validating_emulator.get("chaosexperiments", NS, "e1") is None


def test_unknown_fields_are_pruned_with_a_warning_and_defaults_applied(validating_emulator: EmulatorThread) -> None:
    doc = experiment()
    doc["spec"]["fault"]["bogus"] = 1
    del doc["spec"]["load"]["method"]
    code, stored, warnings = call(validating_emulator, "POST", PATH, doc)
    assert code == 201
    assert warnings == ['299 - "unknown field \\"spec.fault.bogus\\""']
    assert "bogus" not in stored["spec"]["fault"] and stored["spec"]["load"]["method"] == "GET"
    code, body, _ = call(validating_emulator, "POST", PATH + "?fieldValidation=Strict",
                         {**doc, "metadata": {"name": "e2"}})
    assert code == 400 and 'unknown field "spec.fault.bogus"' in body["message"]


def test_status_writes_are_validated_and_ratcheted(validating_emulator: EmulatorThread) -> None:
    invalid = experiment(dryRun="yes")  # stored in-process, as an older CRD might have allowed it
    validating_emulator.create("chaosexperiments", invalid, NS)
    status = PATH + "/e1/status"
    merge = "application/merge-patch+json"
    code, stored, _ = call(validating_emulator, "PATCH", status, {"status": {"phase": "Baseline"}}, merge)
    assert code == 200 and stored["status"]["phase"] == "Baseline"
    assert stored["spec"]["dryRun"] == "yes" and stored["metadata"]["generation"] == 1
    code, body, _ = call(validating_emulator, "PATCH", status, {"status": {"phase": "Sideways"}}, merge)
    assert code == 422 and [c["field"] for c in body["details"]["causes"]] == ["status.phase"]


@pytest.fixture()
def lenient() -> Iterator[EmulatorThread]:
    with EmulatorThread(Emulator(validate=False)) as emu:
        emu.register_crd(chaos_crd())
        yield emu


def test_validation_can_be_turned_off(lenient: EmulatorThread) -> None:
    doc = experiment(dryRun="yes", futureField={"a": 1})
    code, stored, warnings = call(lenient, "POST", PATH, doc)
    assert code == 201 and warnings == []
    assert stored["spec"]["dryRun"] == "yes" and stored["spec"]["futureField"] == {"a": 1}


def test_server_side_dry_run_checks_and_stores_nothing(validating_emulator: EmulatorThread) -> None:
    code, answered, _ = call(validating_emulator, "POST", PATH + "?dryRun=All", experiment())
    assert code == 201 and answered["spec"]["load"]["rate"] == 50
    assert validating_emulator.get("chaosexperiments", NS, "e1") is None
    code, body, _ = call(validating_emulator, "POST", PATH + "?dryRun=All", experiment(dryRun="yes"))
    assert code == 422 and body["details"]["causes"][0]["field"] == "spec.dryRun"

    validating_emulator.create("chaosexperiments", experiment(), NS)
    rv = validating_emulator.get("chaosexperiments", NS, "e1")["metadata"]["resourceVersion"]  # type: ignore[index]
    code, answered, _ = call(validating_emulator, "PATCH", PATH + "/e1?dryRun=All", {"spec": {"abort": True}},
                             "application/merge-patch+json")
    assert code == 200 and answered["spec"]["abort"] is True
    code, _, _ = call(validating_emulator, "DELETE", PATH + "/e1?dryRun=All")
    stored = validating_emulator.get("chaosexperiments", NS, "e1")
    assert code == 200 and stored is not None and stored["metadata"]["resourceVersion"] == rv
    assert stored["spec"]["abort"] is False
