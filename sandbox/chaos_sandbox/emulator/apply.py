"""Server-side apply (`PATCH` with `application/apply-patch+yaml`): what the object becomes when a field manager
applies its configuration, with the managedFields that go with it, or a 409 Conflict as a cluster reports it.

The manager owns exactly the fields it sends: a field it sent before and no longer sends is removed unless
another manager owns it; a field another manager owns with a different value is a conflict unless `force`,
which takes it over; the same value is owned together. An associative list (containers by name, a CRD's
`x-kubernetes-list-type: map`) merges element by element, each element's fields owned apart; any other list
is replaced whole (see `fields`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from chaos_sandbox.emulator.fields import (
    Owners,
    Path,
    dotted,
    field_paths,
    item_tokens,
    managed_fields,
    overlaps,
    owners_of,
    value_at,
)
from chaos_sandbox.emulator.mergekeys import UNKNOWN, Shape
from chaos_sandbox.emulator.resources import ApiError, ResourceType, api_error

APPLY_PATCH = "application/apply-patch+yaml"


def is_apply(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == APPLY_PATCH


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    return value


def _merge(live: Any, config: Any, shape: Shape) -> Any:
    """Maps merge key by key, associative lists element by element (the applied elements in the applied
    order, another manager's elements where they were); anything else is replaced by the applied value."""
    if isinstance(live, dict) and isinstance(config, dict):
        merged = dict(live)
        for key, value in config.items():
            merged[key] = _merge(live.get(key), value, shape.child(key))
        return merged
    mine = item_tokens(config, shape.keys) if isinstance(config, list) else None
    theirs = item_tokens(live, shape.keys) if isinstance(live, list) else None
    if mine is None or theirs is None or not isinstance(live, list) or not isinstance(config, list):
        return copy.deepcopy(config)
    by_token = dict(zip(theirs, live, strict=True))
    result = [_merge(by_token.get(token), item, shape.item()) for token, item in zip(mine, config, strict=True)]
    for index, (token, item) in enumerate(zip(theirs, live, strict=True)):
        if token not in mine:
            result.insert(min(index, len(result)), copy.deepcopy(item))
    return result


def _child(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return node.get(key)
    found = value_at(node, (key,)) if isinstance(node, list) else None
    return found if isinstance(found, dict) else None


def _remove(obj: dict[str, Any], path: Path) -> None:
    """Remove a field, then the maps and list elements it leaves empty (below the top level). The key
    fields of a list element stay while the element holds anything else."""
    parents: list[Any] = [obj]
    for key in path[:-1]:
        node = _child(parents[-1], key)
        if not isinstance(node, (dict, list)):
            return
        parents.append(node)
    if len(path) > 1 and path[-2].startswith("k:") and path[-1] in json.loads(path[-2][2:]):
        if not isinstance(parents[-1], dict) or not set(parents[-1]) <= set(json.loads(path[-2][2:])):
            return  # a key field stays while its element holds anything else
        parents.pop()  # nothing but its keys left: the element goes
        path = path[:-1]
    _drop(parents[-1], path[-1])
    for depth in range(len(parents) - 1, 1, -1):
        node, key = parents[depth], path[depth - 1]
        keys = json.loads(key[2:]) if key.startswith("k:") else {}
        if not node or (keys and isinstance(node, dict) and set(node) <= set(keys)):
            _drop(parents[depth - 1], key)


def _drop(node: Any, key: str) -> None:
    if isinstance(node, dict):
        node.pop(key, None)
    elif isinstance(node, list):
        found = _child(node, key)
        node[:] = [item for item in node if item is not found]


def conflict_error(conflicts: list[tuple[str, Path]], rt: ResourceType, name: str) -> ApiError:
    by_manager: dict[str, list[str]] = {}
    for manager, path in conflicts:
        if dotted(path) not in by_manager.setdefault(manager, []):
            by_manager[manager].append(dotted(path))
    count = sum(len(paths) for paths in by_manager.values())
    parts = []
    for manager, paths in by_manager.items():
        if len(paths) == 1:
            parts.append(f'conflict with "{manager}" using {rt.api_version}: {paths[0]}')
        else:
            listed = "".join(f"\n- {path}" for path in paths)
            parts.append(f'conflicts with "{manager}" using {rt.api_version}:{listed}')
    message = f"Apply failed with {count} conflict{'s' if count > 1 else ''}: " + "\n".join(parts)
    causes = [{"type": "FieldManagerConflict", "message": f'conflict with "{manager}" using {rt.api_version}',
               "field": path} for manager, paths in by_manager.items() for path in paths]
    return api_error(409, "Conflict", message, name=name, group=rt.group, kind=rt.plural, causes=causes)


def check_request(rt: ResourceType, name: str, config: Any, params: Mapping[str, str]) -> str:
    """The field manager of a well-formed apply request; 400 or 422 otherwise, as a cluster answers."""
    manager = params.get("fieldManager", "")
    if not manager:
        raise api_error(400, "BadRequest", "PATCH requests with apply content type require fieldManager")
    if not isinstance(config, dict):
        raise api_error(400, "BadRequest", "the applied configuration must be an object")
    if config.get("apiVersion") != rt.api_version or config.get("kind") != rt.kind:
        raise api_error(400, "BadRequest", f"the applied configuration is a {config.get('kind')} of "
                        f"{config.get('apiVersion')}, not a {rt.kind} of {rt.api_version}")
    meta = config.get("metadata")
    if not isinstance(meta, dict) or meta.get("name") not in (name, None):
        raise api_error(400, "BadRequest", "the name of the object does not match the name on the URL")
    return manager


def server_side_apply(rt: ResourceType, live: dict[str, Any] | None, config: dict[str, Any], manager: str,
                      force: bool, subresource: str = "", shape: Shape = UNKNOWN) -> tuple[dict[str, Any], list[Any]]:
    """The object to store (None for `live`: created) and its managedFields; raises the 409 of a conflict."""
    config = _without_nulls(config)
    meta = config["metadata"] = dict(config.get("metadata") or {})
    for server_field in ("managedFields", "uid", "generation", "creationTimestamp", "deletionTimestamp", "selfLink"):
        meta.pop(server_field, None)  # the server's, whatever the configuration says
    applied = field_paths(config, subresource, rt.has_status, shape)
    owners: Owners = owners_of(live)
    mine = (manager, "Apply", subresource)
    previous = owners.get(mine, set())
    conflicts: list[tuple[str, Path]] = []
    taken: Owners = {}
    for key, paths in owners.items():
        if key == mine:
            continue
        for owned in paths:
            for path in applied:
                if overlaps(owned, path) and value_at(live, path) != value_at(config, path):
                    conflicts.append((key[0], path))
                    taken.setdefault(key, set()).add(owned)
    if conflicts and not force:
        raise conflict_error(conflicts, rt, str(config["metadata"].get("name", "")))
    for key, paths in taken.items():
        owners[key] -= paths
    others = [owned for key, paths in owners.items() if key != mine for owned in paths]
    result: dict[str, Any] = copy.deepcopy(live) if live is not None else {}
    for path in previous - applied:
        if not any(overlaps(path, other) for other in [*applied, *others]):
            _remove(result, path)
    result = _merge(result, config, shape)
    owners[mine] = applied
    changed = set(taken) | ({mine} if applied != previous or result != live else set())
    return result, managed_fields(owners, live, rt.api_version, changed)
