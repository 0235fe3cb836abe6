"""Patch formats accepted by the API emulator: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
strategic merge patch of the built-in kinds (strategic.py).

Pure functions over plain JSON values; they never mutate their inputs.
"""

from __future__ import annotations

import copy
from typing import Any

from chaos_sandbox.emulator.strategic import CUSTOM_RESOURCE_REFUSAL, StrategicPatchError, strategic_merge

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class PatchError(ValueError):
    """The patch cannot be applied (maps to 422, as kopf expects for a failed `test` op)."""


class UnsupportedPatchType(ValueError):
    """An unknown patch content type (maps to 415)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, `null` deletes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _parse_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    return [_unescape(token) for token in pointer[1:].split("/")]


def _index(container: list[Any], token: str, *, for_insert: bool) -> int:
    if token == "-" and for_insert:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not for_insert):
        raise PatchError(f"array index {index} out of range")
    return index


def _resolve(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"path element {token!r} not found")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_insert=False)]
        else:
            raise PatchError(f"cannot descend into a scalar at {token!r}")
    return node


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, for_insert=True), value)
    else:
        raise PatchError("cannot add into a scalar")
    return doc


def _remove(doc: Any, tokens: list[str]) -> tuple[Any, Any]:
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path element {last!r} not found")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, for_insert=False))
    raise PatchError("cannot remove from a scalar")


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902: add, remove, replace, move, copy, test; all-or-nothing."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise PatchError(f"malformed operation {operation!r}")
        op, path = operation["op"], _parse_pointer(operation["path"])
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"{op!r} needs a value")
        if op == "add":
            doc = _add(doc, path, copy.deepcopy(operation["value"]))
        elif op == "remove":
            doc, _ = _remove(doc, path)
        elif op == "replace":
            doc, _ = _remove(doc, path) if path else (doc, None)
            doc = _add(doc, path, copy.deepcopy(operation["value"]))
        elif op in ("move", "copy"):
            source = _parse_pointer(operation.get("from", ""))
            if op == "move":
                doc, value = _remove(doc, source)
            else:
                value = copy.deepcopy(_resolve(doc, source))
            doc = _add(doc, path, value)
        elif op == "test":
            if _resolve(doc, path) != operation["value"]:
                raise PatchError(f"test failed at {operation['path']!r}")
        else:
            raise PatchError(f"unknown operation {op!r}")
    return doc


def apply_patch(target: dict[str, Any], patch: Any, content_type: str, kind: str | None = None) -> dict[str, Any]:
    """Apply a PATCH body of the given content type to a whole object of a built-in `kind` (None: a custom
    resource, which has no strategic merge patch)."""
    media = content_type.split(";")[0].strip().lower()
    if media == STRATEGIC_MERGE_PATCH:
        if kind is None:
            raise UnsupportedPatchType(CUSTOM_RESOURCE_REFUSAL)
        try:
            return strategic_merge(target, patch, kind)
        except StrategicPatchError as exc:
            raise PatchError(str(exc)) from exc
    if media == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise PatchError("a merge patch must be a JSON object")
        result = merge_patch(copy.deepcopy(target), patch)
    elif media == JSON_PATCH:
        result = json_patch(target, patch)
    else:  # server-side apply never gets here (apply.py); anything else: 415
        raise UnsupportedPatchType(f"unsupported patch type {content_type!r}")
    if not isinstance(result, dict):
        raise PatchError("the patched object is not a JSON object")
    return result
