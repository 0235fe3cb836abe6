"""`chaos-operator validate FILE...`: output lines, exit status, YAML as kubectl reads it, the envelope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos_operator.cli.main import main
from chaos_operator.cli.validate.document import Problem, validate_files, validate_manifest
from tests.support.manifests import BASE_EXAMPLE, EXAMPLES, base_manifest


def _write(tmp_path: Path, name: str, *docs: Any) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False) if docs else "", encoding="utf-8")
    return str(path)


def test_valid_files_print_ok_and_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_files([str(p) for p in EXAMPLES]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{p}: OK" for p in EXAMPLES]


def test_invalid_file_names_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = base_manifest()
    doc["spec"]["load"]["rate"] = 5001
    bad = _write(tmp_path, "bad.yaml", doc)
    assert main(["validate", str(BASE_EXAMPLE), bad]) == 1  # the command itself
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{BASE_EXAMPLE}: OK"
    assert lines[1:] == [f"{bad}: spec.load.rate: 5001 is greater than the maximum of 5000"]


def test_multi_document_file_numbers_the_documents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = base_manifest()
    bad["spec"]["fault"]["kind"] = "NetworkChaos"
    path = _write(tmp_path, "two.yaml", base_manifest(), bad)
    assert validate_files([path]) == 1
    out = capsys.readouterr().out
    assert f"{path}#2: spec.fault.kind:" in out and f"{path}#1" not in out


@pytest.mark.parametrize(("text", "expected"), [
    ("spec: [unclosed", "not valid YAML"),
    ("", "no document in the file"),
    ("a: 1\na: 2\n", "duplicate key 'a'"),
])
def test_unreadable_files_are_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                      expected: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    assert validate_files([str(path)]) == 1
    assert expected in capsys.readouterr().out


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_files([str(tmp_path / "nope.yaml")]) == 1
    assert "cannot read" in capsys.readouterr().out


def test_timestamps_stay_strings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = BASE_EXAMPLE.read_text(encoding="utf-8") + "status:\n  startedAt: 2025-03-04T10:00:00Z\n"
    path = tmp_path / "ts.yaml"
    path.write_text(text, encoding="utf-8")
    assert validate_files([str(path)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize(("change", "path"), [
    ({"apiVersion": "chaosoperator.dev/v1"}, "apiVersion"),
    ({"kind": "ChaosExperiments"}, "kind"),
    ({"metadata": {"name": "Checkout_Kill"}}, "metadata.name"),
    ({"metadata": {"name": "$(reboot)"}}, "metadata.name"),
    ({"metadata": {"name": "a;b"}}, "metadata.name"),
    ({"metadata": {"name": "x" * 254}}, "metadata.name"),
    ({"metadata": {}}, "metadata.name"),
    ({"metadata": {"generateName": "Bad_"}}, "metadata.generateName"),
    ({"metadata": {"name": "ok", "namespace": "a.b"}}, "metadata.namespace"),
    ({"specs": {}}, "specs"),
])
def test_envelope_problems(change: dict[str, Any], path: str) -> None:
    assert path in {p.path for p in validate_manifest({**base_manifest(), **change})}


def test_generate_name_is_accepted() -> None:
    assert validate_manifest({**base_manifest(), "metadata": {"generateName": "checkout-kill-"}}) == []


def test_not_a_mapping() -> None:
    assert validate_manifest(["a"]) == [Problem("", "a manifest must be a mapping, not list")]


def test_one_line_per_field_when_both_sides_object() -> None:
    doc = base_manifest()
    doc["spec"]["load"]["rate"] = "fifty"
    assert [p.path for p in validate_manifest(doc)] == ["spec.load.rate"]


def test_nulls_are_dropped_then_defaulted_like_the_api_server() -> None:
    doc = base_manifest()
    doc["spec"]["prometheus"]["queries"][0]["phases"] = None  # the API server drops it, then defaults [chaos]
    doc["spec"]["slos"]["maxLatencyP99"] = None
    assert validate_manifest(doc) == []
