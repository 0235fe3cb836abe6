"""A JSON merge patch (RFC 7386, what the status writes send) that replaces one document with another.

A merge patch merges objects key by key: sending ``{"phases": {}}`` over ``{"phases": {"baseline": {...}}}``
keeps ``baseline``. A write that must replace a status it could not read (engine/failclosed.py) therefore nulls
every key, at every depth, that the old document has and the new one lacks. Lists are replaced whole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def replacing(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``new``, plus a null for each key of ``old`` that ``new`` does not have (recursively in objects)."""
    patch: dict[str, Any] = dict(new)
    for key, was in old.items():
        if key not in new:
            patch[key] = None
        elif isinstance(was, Mapping) and isinstance(new[key], Mapping):
            patch[key] = replacing(was, new[key])
    return patch
