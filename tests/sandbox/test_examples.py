"""The demo's manifests (examples/demo) are what `make demo`, `sandbox up` and the end-to-end tests apply: every
ChaosExperiment among them passes the same validation as `chaos-operator validate` (CRD schema and models)."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from chaos_sandbox.cluster import DEMO_DIR

from chaos_operator.cli.validate.document import validate_manifest

EXPERIMENTS = sorted(path for path in DEMO_DIR.glob("*.yaml") if "ChaosExperiment" in path.read_text())


def test_the_demo_has_an_experiment_for_each_fault_it_runs() -> None:
    kinds = {yaml.safe_load(path.read_text())["spec"]["fault"]["kind"] for path in EXPERIMENTS}
    assert {"PodKill", "NetworkBandwidth", "CPUStress"} <= kinds


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_demo_experiments_are_valid(path: pathlib.Path) -> None:
    docs = list(yaml.safe_load_all(path.read_text()))
    assert len(docs) == 1 and validate_manifest(docs[0]) == []
    assert docs[0]["metadata"]["namespace"] == "demo"
