"""Locate and load the ChaosExperiment CRD that ships with the package.

The canonical file lives in ``crds/`` at the repository root; ``chaos_operator/crds`` is a symlink to it,
so the same ``importlib.resources`` lookup works in a source checkout and in an installed wheel (where
the YAML is package data).
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any, cast

import yaml

from chaos_operator.models import VERSION

CRD_FILENAME = "chaosoperator.dev_chaosexperiments.yaml"


def crd_text() -> str:
    """The CRD manifest exactly as shipped."""
    return resources.files("chaos_operator").joinpath("crds", CRD_FILENAME).read_text(encoding="utf-8")


@functools.cache
def _crd() -> dict[str, Any]:
    doc = yaml.safe_load(crd_text())
    if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
        raise RuntimeError(f"{CRD_FILENAME} is not a CustomResourceDefinition")
    return cast(dict[str, Any], doc)


def load_crd() -> dict[str, Any]:
    """The parsed CRD (a private copy: callers may change it)."""
    return copy.deepcopy(_crd())


def crd_version(version: str = VERSION) -> dict[str, Any]:
    """One entry of ``spec.versions`` (name, served, schema, printer columns...)."""
    for entry in load_crd()["spec"]["versions"]:
        if entry["name"] == version:
            return cast(dict[str, Any], entry)
    raise KeyError(f"the CRD has no version {version}")


def openapi_schema(version: str = VERSION) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of a version (a private copy)."""
    return cast(dict[str, Any], crd_version(version)["schema"]["openAPIV3Schema"])
