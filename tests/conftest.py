"""Shared fixtures. `emulator`: an in-process Kubernetes API server with the ChaosExperiment CRD served.

Its tests store small made-up experiments (`spec: {abort: false}`) to check API semantics, so it does not validate
custom objects against the CRD; `validating_emulator` does, as a real API server and the sandbox do."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from chaos_sandbox.emulator import Emulator, EmulatorThread, kube_client_config
from kubernetes import client

CRD_PATH = pathlib.Path(__file__).parent.parent / "crds" / "chaosoperator.dev_chaosexperiments.yaml"

# Stand-in until the canonical CRD exists: same names, scope and status subresource, no schema.
FALLBACK_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "chaosexperiments.chaosoperator.dev"},
    "spec": {
        "group": "chaosoperator.dev",
        "scope": "Namespaced",
        "names": {"plural": "chaosexperiments", "singular": "chaosexperiment", "kind": "ChaosExperiment",
                  "shortNames": ["cex"], "categories": ["chaos"]},
        "versions": [{"name": "v1alpha1", "served": True, "storage": True, "subresources": {"status": {}},
                      "schema": {"openAPIV3Schema": {"type": "object",
                                                     "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}


def chaos_crd() -> dict[str, Any]:
    if CRD_PATH.exists():
        for doc in yaml.safe_load_all(CRD_PATH.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                return doc
    return FALLBACK_CRD


@pytest.fixture()
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(Emulator(validate=False)) as emu:
        emu.register_crd(chaos_crd())
        yield emu


@pytest.fixture()
def validating_emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emu:
        emu.register_crd(chaos_crd())
        yield emu


@pytest.fixture()
def kube_config(emulator: EmulatorThread) -> client.Configuration:
    return kube_client_config(emulator.url)
