"""Strategic merge patch (`application/strategic-merge-patch+json`) of the built-in kinds, as a real API
server applies it: maps merge, `null` deletes a field, a list whose field has the "merge" strategy merges
element by element by its merge key (mergekeys.py), any other list is replaced whole. Directives:
`$patch: replace|delete|merge` (on a map or a list element), `$retainKeys`, `$deleteFromPrimitiveList/F`
and `$setElementOrder/F`. Custom resources refuse it with 415, as a real server does (docs/sandbox.md).

Pure functions over plain JSON values; they never mutate their inputs.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from chaos_sandbox.emulator.mergekeys import Field, field_of, root_type

# What a real server accepts for a custom resource, in its own words.
CUSTOM_RESOURCE_REFUSAL = ("the body of the request was in an unknown format - accepted media types include: "
                           "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")


class StrategicPatchError(ValueError):
    """The patch is malformed for its kind (a real server answers 422 or 400; the emulator 422)."""


def strategic_merge(target: dict[str, Any], patch: Any, kind: str) -> dict[str, Any]:
    """`target` (a whole object of `kind`) with `patch` merged in."""
    if not isinstance(patch, dict):
        raise StrategicPatchError("a strategic merge patch must be a JSON object")
    merged = _merge_map(target, patch, root_type(kind))
    return merged if merged is not None else {}


def _merge_map(original: Any, patch: dict[str, Any], type_name: str) -> dict[str, Any] | None:
    """The merged map, or None when the patch deletes it (`$patch: delete`)."""
    directive = patch.get("$patch", "merge")
    if directive == "delete":
        return None
    if directive == "replace":  # the patch, minus the directive, is the new value
        return _merge_map({}, {k: v for k, v in patch.items() if k != "$patch"}, type_name)
    if directive != "merge":
        raise StrategicPatchError(f"Unknown patch type: {directive}")
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    retain = patch.get("$retainKeys")
    if retain is not None:  # fields not named are cleared (a union field switched to another member)
        if not isinstance(retain, list):
            raise StrategicPatchError("$retainKeys must be a list")
        result = {key: value for key, value in result.items() if key in retain}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list) and isinstance(value, list):
                result[name] = [item for item in result[name] if item not in value]
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        spec = field_of(type_name, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge_map(result.get(key), value, spec.type)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and "merge" in spec.strategy.split(","):
            result[key] = _merge_list(result.get(key), value, spec)
        else:  # a scalar, or an atomic list: replaced whole
            result[key] = copy.deepcopy(value)
    for key, order in patch.items():
        if key.startswith("$setElementOrder/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list) and isinstance(order, list):
                result[name] = _reorder(result[name], order, field_of(type_name, name).key)
    return result


def _merge_list(original: Any, patch: list[Any], spec: Field) -> list[Any]:
    current = copy.deepcopy(original) if isinstance(original, list) else []
    if not spec.key:  # a list of scalars that merges (finalizers): a union, the server's items first
        return current + [item for item in patch if item not in current]
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [m for item in patch if isinstance(item, dict) and not item.get("$patch")
                for m in [_merge_map({}, item, spec.type)] if m is not None]
    for item in patch:
        if not isinstance(item, dict):
            raise StrategicPatchError(f"a list merged by {spec.key!r} holds maps, not {item!r}")
        if spec.key not in item:
            raise StrategicPatchError(f"map: {item} does not contain declared merge key: {spec.key}")
        at = next((i for i, old in enumerate(current)
                   if isinstance(old, dict) and old.get(spec.key) == item[spec.key]), None)
        if item.get("$patch") == "delete":
            current = [old for old in current if not (isinstance(old, dict) and old.get(spec.key) == item[spec.key])]
            continue
        merged = _merge_map(current[at] if at is not None else {}, item, spec.type)
        if at is None:
            if merged is not None:
                current.append(merged)
        elif merged is None:
            del current[at]
        else:
            current[at] = merged
    return current


def _identity(item: Any, key: str) -> str:
    return json.dumps(item.get(key) if key and isinstance(item, dict) else item, sort_keys=True)


def _reorder(items: list[Any], order: list[Any], key: str) -> list[Any]:
    """`$setElementOrder`: the elements it names come in its order, in the places such elements hold;
    an element only the server has (not named) keeps its place."""
    rank = {_identity(item, key): index for index, item in enumerate(order)}
    named = sorted((item for item in items if _identity(item, key) in rank), key=lambda i: rank[_identity(i, key)])
    queue = iter(named)
    return [next(queue) if _identity(item, key) in rank else item for item in items]
