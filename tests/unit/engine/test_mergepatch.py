"""mergepatch.replacing: applied as a JSON merge patch (RFC 7386) over the old document, it gives the new one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from chaos_operator.engine.mergepatch import replacing


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386's apply algorithm, as the API server runs it."""
    if not isinstance(patch, Mapping):
        return patch
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out


CASES = [
    ({"phases": {"baseline": {"requests": -1}}}, {"phases": {}}),
    ({"a": 1, "b": {"c": {"d": 2, "e": 3}}}, {"b": {"c": {"d": 4}}}),
    ({"list": [1, 2, 3]}, {"list": []}),
    ({"x": "a string"}, {"x": {"now": "an object"}}),
    ({"x": {"was": "an object"}}, {"x": "a string"}),
    ({}, {"phase": "Failed"}),
]


@pytest.mark.parametrize(("old", "new"), CASES)
def test_the_patch_turns_old_into_new(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert merge(old, replacing(old, new)) == new


def test_a_plain_merge_would_keep_the_old_nested_keys() -> None:
    old, new = CASES[0]
    assert merge(old, new) != new  # why replacing exists
