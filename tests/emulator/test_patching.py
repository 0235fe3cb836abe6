"""Merge patch (RFC 7386) and JSON patch (RFC 6902) on plain values."""

from __future__ import annotations

from typing import Any

import pytest
from chaos_sandbox.emulator.patching import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    UnsupportedPatchType,
    apply_patch,
    json_patch,
    merge_patch,
)

DOC = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}


@pytest.mark.parametrize(("patch", "expected"), [
    ({}, DOC),
    ({"d": "y"}, {"a": {"b": 1, "c": [1, 2]}, "d": "y"}),
    ({"d": None}, {"a": {"b": 1, "c": [1, 2]}}),
    ({"a": {"b": None, "e": 2}}, {"a": {"c": [1, 2], "e": 2}, "d": "x"}),
    ({"a": {"c": [3]}}, {"a": {"b": 1, "c": [3]}, "d": "x"}),
    ({"a": "flat"}, {"a": "flat", "d": "x"}),
    ({"new": {"deep": None}}, {"a": {"b": 1, "c": [1, 2]}, "d": "x", "new": {}}),
])
def test_merge_patch(patch: dict[str, Any], expected: dict[str, Any]) -> None:
    assert merge_patch(DOC, patch) == expected
    assert DOC == {"a": {"b": 1, "c": [1, 2]}, "d": "x"}  # the input is untouched


@pytest.mark.parametrize(("ops", "expected"), [
    ([{"op": "add", "path": "/e", "value": 5}], {**DOC, "e": 5}),
    ([{"op": "add", "path": "/a/c/-", "value": 3}], {"a": {"b": 1, "c": [1, 2, 3]}, "d": "x"}),
    ([{"op": "add", "path": "/a/c/0", "value": 0}], {"a": {"b": 1, "c": [0, 1, 2]}, "d": "x"}),
    ([{"op": "remove", "path": "/a/b"}], {"a": {"c": [1, 2]}, "d": "x"}),
    ([{"op": "remove", "path": "/a/c/0"}], {"a": {"b": 1, "c": [2]}, "d": "x"}),
    ([{"op": "replace", "path": "/d", "value": "z"}], {**DOC, "d": "z"}),
    ([{"op": "test", "path": "/d", "value": "x"}, {"op": "replace", "path": "/d", "value": "z"}], {**DOC, "d": "z"}),
    ([{"op": "move", "from": "/d", "path": "/e"}], {"a": {"b": 1, "c": [1, 2]}, "e": "x"}),
    ([{"op": "copy", "from": "/a/b", "path": "/e"}], {**DOC, "e": 1}),
    ([{"op": "add", "path": "/a~1b", "value": 1}], {**DOC, "a/b": 1}),
])
def test_json_patch(ops: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert json_patch(DOC, ops) == expected


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/d", "value": "nope"}],
    [{"op": "remove", "path": "/missing"}],
    [{"op": "replace", "path": "/missing", "value": 1}],
    [{"op": "add", "path": "/missing/deeper", "value": 1}],
    [{"op": "add", "path": "/a/c/9", "value": 1}],
    [{"op": "bogus", "path": "/d"}],
    [{"op": "add", "path": "/d"}],
    {"op": "add"},
])
def test_json_patch_failures(ops: Any) -> None:
    with pytest.raises(PatchError):
        json_patch(DOC, ops)


def test_patch_dispatch_by_content_type() -> None:
    assert apply_patch({"a": 1}, {"b": 2}, MERGE_PATCH + "; charset=utf-8") == {"a": 1, "b": 2}
    assert apply_patch({"l": [1]}, {"l": [2]}, STRATEGIC_MERGE_PATCH, "ConfigMap") == {"l": [2]}  # an atomic list
    with pytest.raises(UnsupportedPatchType, match="accepted media types include"):  # a custom resource
        apply_patch({"l": [1]}, {"l": [2]}, STRATEGIC_MERGE_PATCH)
    assert apply_patch({"a": 1}, [{"op": "remove", "path": "/a"}], JSON_PATCH) == {}
    with pytest.raises(UnsupportedPatchType):
        apply_patch({}, {}, "application/apply-patch+yaml")
