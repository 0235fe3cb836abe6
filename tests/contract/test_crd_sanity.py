"""The CRD itself: structural, documented, bounded, with the names and printer columns users rely on, CEL rules
that compile, and YAML that kubectl (Go's parser) reads the same way we do."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import re2  # type: ignore[import-untyped]

from chaos_operator.cli.validate.cel import Schema, apply_defaults, compile_rule, iter_rules
from chaos_operator.models.crd import crd_text, crd_version, load_crd, openapi_schema
from tests.support.manifests import CRD_FILE, EXAMPLES, load_yaml

# Status figures with a floor but no meaningful ceiling (counters, rates, generations, seeds).
UNBOUNDED_ABOVE = {
    "status.seed", "status.readyBefore", "status.observedGeneration", "status.conditions[].observedGeneration",
    *(f"status.phases.{phase}.{field}" for phase in ("baseline", "chaos", "recovery")
      for field in ("requests", "errors", "throughput", "errorClasses.timeout", "errorClasses.connection",
                    "errorClasses.http5xx", "errorClasses.unexpectedStatus", "ramp.requests", "ramp.errors")),
    "status.timeline.points[].requests", "status.timeline.points[].errors",
}
FORBIDDEN_KEYWORDS = {"oneOf", "anyOf", "allOf", "not", "$ref", "x-kubernetes-preserve-unknown-fields",
                      "x-kubernetes-embedded-resource", "nullable"}


def nodes(schema: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every schema node with its field path (``[]`` for array items, ``{}`` for map values)."""
    yield path, schema
    for key, child in (schema.get("properties") or {}).items():
        yield from nodes(child, f"{path}.{key}" if path else key)
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")


ALL_NODES = list(nodes(openapi_schema()))


def test_names_scope_and_version() -> None:
    crd = load_crd()
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == "chaosexperiments.chaosoperator.dev"
    spec = crd["spec"]
    assert spec["group"] == "chaosoperator.dev" and spec["scope"] == "Namespaced"
    assert spec["names"] == {"kind": "ChaosExperiment", "listKind": "ChaosExperimentList",
                             "plural": "chaosexperiments", "singular": "chaosexperiment",
                             "shortNames": ["cex"], "categories": ["chaos"]}
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_printer_columns() -> None:
    columns = [(c["name"].upper(), c["jsonPath"], c["type"]) for c in crd_version()["additionalPrinterColumns"]]
    assert columns == [
        ("FAULT", ".spec.fault.kind", "string"), ("PHASE", ".status.phase", "string"),
        ("VERDICT", ".status.verdict", "string"), ("SCORE", ".status.score", "integer"),
        ("GRADE", ".status.grade", "string"), ("AGE", ".metadata.creationTimestamp", "date"),
    ]


def test_schema_is_structural() -> None:
    schema = openapi_schema()
    assert schema["type"] == "object" and schema["properties"]["metadata"] == {
        "type": "object", "description": schema["properties"]["metadata"]["description"]}
    for path, node in ALL_NODES:
        assert "type" in node or node.get("x-kubernetes-int-or-string") is True, path
        assert not FORBIDDEN_KEYWORDS & set(node), (path, FORBIDDEN_KEYWORDS & set(node))
        assert not ("properties" in node and "additionalProperties" in node), path
        if node.get("type") == "array":
            assert isinstance(node.get("items"), dict), path
        if "properties" in node or "additionalProperties" in node:
            assert node["type"] == "object", path
        assert set(node.get("required", [])) <= set(node.get("properties", {})), path


def test_every_field_is_described() -> None:
    missing = [path for path, node in ALL_NODES if path and len(node.get("description", "")) < 8]
    assert missing == []


def test_every_value_is_bounded() -> None:
    for path, node in ALL_NODES:
        kind = node.get("type")
        if kind == "string":
            assert "maxLength" in node, path
        elif kind == "array":
            assert "maxItems" in node, path
        elif kind == "object" and "additionalProperties" in node:
            assert "maxProperties" in node, path
        elif kind in ("integer", "number"):
            assert "minimum" in node, path
            assert ("maximum" in node) != (path in UNBOUNDED_ABOVE), path


def test_defaults_are_valid_values() -> None:
    for path, node in ALL_NODES:
        if "default" in node:
            jsonschema.Draft4Validator(node).validate(apply_defaults(node, node["default"]))
            assert path.startswith(("spec", "status")), path


def test_patterns_are_anchored_re2() -> None:
    for path, node in ALL_NODES:
        if "pattern" in node:
            assert node["pattern"].startswith("^") and node["pattern"].endswith("$"), path
            re2.compile(node["pattern"])


def test_every_cel_rule_compiles_and_has_a_message() -> None:
    rules = list(iter_rules(openapi_schema()))
    assert len(rules) >= 15
    for path, rule in rules:
        compile_rule(rule["rule"])
        assert len(rule["message"]) >= 10, path
        assert set(rule) <= {"rule", "message", "fieldPath"}, path
        assert rule.get("fieldPath", ".x").startswith("."), path


def test_shipped_text_is_the_repository_file() -> None:
    assert crd_text() == CRD_FILE.read_text(encoding="utf-8")
    assert Path(__file__).resolve().parents[2].joinpath("chaos_operator", "crds").is_symlink()


def _kubectl_local(path: Path, tmp_path: Path) -> Any:
    """kubectl's own reading of a file, without any server: ``--local`` never dials, and the kubeconfig is
    empty and the server unroutable in case it tried."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    result = subprocess.run(
        ["kubectl", "annotate", "--local", "-f", str(path), "contract-test=1", "-o", "json",
         f"--kubeconfig={kubeconfig}", "--server=http://127.0.0.1:1", "--request-timeout=2s", "-v=6"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 0, result.stderr
    for dialled in ("localhost:8080", "127.0.0.1:1", "GET http", "POST http"):
        assert dialled not in result.stderr, result.stderr
    return json.loads(result.stdout)


def _without_annotation(obj: dict[str, Any]) -> dict[str, Any]:
    obj = json.loads(json.dumps(obj))
    annotations = obj["metadata"].pop("annotations")
    assert annotations.pop("contract-test") == "1" and annotations == {}
    return obj


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("path", [CRD_FILE, *EXAMPLES], ids=lambda p: p.name)
def test_kubectl_reads_the_yaml_as_we_do(path: Path, tmp_path: Path) -> None:
    ours = load_yaml(path)
    theirs = _kubectl_local(path, tmp_path)
    items = theirs["items"] if theirs.get("kind") == "List" else [theirs]
    assert [_without_annotation(item) for item in items] == ours
