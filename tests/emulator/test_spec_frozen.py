"""Once the operator has started an experiment (status.startedAt), the CRD's transition rule refuses any change to
its spec but `abort`, over real HTTP through the emulator's admission, as a cluster's API server would: the
operator recovers and judges with the spec it started from, so a GitOps sync must not change it mid-run."""

from __future__ import annotations

import copy
import json
import pathlib
import urllib.error
import urllib.request
from typing import Any

import yaml
from chaos_sandbox.emulator import EmulatorThread

EXAMPLE = yaml.safe_load((pathlib.Path(__file__).parents[2] / "examples" / "pod-kill.yaml").read_text())
NS = "shop"
PATH = f"/apis/chaosoperator.dev/v1alpha1/namespaces/{NS}/chaosexperiments/frozen"
MERGE = "application/merge-patch+json"


def patch(emu: EmulatorThread, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(emu.url + path, data=json.dumps(body).encode(), method="PATCH",
                                     headers={"Content-Type": MERGE})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def created(emu: EmulatorThread) -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["metadata"] = {"name": "frozen"}
    emu.create("chaosexperiments", doc, NS)


def test_a_started_experiment_refuses_spec_changes_but_abort(validating_emulator: EmulatorThread) -> None:
    created(validating_emulator)
    code, _ = patch(validating_emulator, PATH + "/status",
                    {"status": {"phase": "Baseline", "startedAt": "2026-12-07T07:00:00Z"}})
    assert code == 200
    for change in ({"fault": {"gracePeriodSeconds": 7}}, {"slos": {"maxErrorRate": 0.5}}, {"dryRun": True},
                   {"target": {"mode": "all"}}):
        code, body = patch(validating_emulator, PATH, {"spec": change})
        assert code == 422, change
        assert [c["field"] for c in body["details"]["causes"]] == ["spec"]
        assert "only spec.abort may" in body["message"]
    code, body = patch(validating_emulator, PATH, {"spec": {"abort": True}})
    assert code == 200 and body["spec"]["abort"] is True
    stored = validating_emulator.get("chaosexperiments", NS, "frozen")
    assert stored is not None and stored["spec"]["fault"].get("gracePeriodSeconds") != 7
    assert stored["spec"]["target"]["mode"] == EXAMPLE["spec"]["target"]["mode"]
    assert stored["spec"]["slos"].get("maxErrorRate") == EXAMPLE["spec"]["slos"].get("maxErrorRate")


def test_before_it_starts_the_spec_may_still_change(validating_emulator: EmulatorThread) -> None:
    created(validating_emulator)
    code, body = patch(validating_emulator, PATH, {"spec": {"fault": {"gracePeriodSeconds": 7}}})
    assert code == 200 and body["spec"]["fault"]["gracePeriodSeconds"] == 7
