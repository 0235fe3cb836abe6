"""Server-side apply (`PATCH` with `application/apply-patch+yaml`): what the object becomes when a field manager
applies its configuration, with the managedFields that go with it, or a 409 Conflict as a cluster reports it.

The manager owns exactly the fields it sends: a field it sent before and no longer sends is removed unless
another manager owns it; a field another manager owns with a different value is a conflict unless `force`,
which takes it over; the same value is owned together. Lists are replaced whole (see `fields`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from chaos_sandbox.emulator.fields import (
    Owners,
    Path,
    dotted,
    field_paths,
    managed_fields,
    overlaps,
    owners_of,
    value_at,
)
from chaos_sandbox.emulator.resources import ApiError, ResourceType, api_error

APPLY_PATCH = "application/apply-patch+yaml"


def is_apply(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == APPLY_PATCH


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    return value


def _merge(live: Any, config: Any) -> Any:
    """Maps merge key by key; anything else (lists too) is replaced by the applied value."""
    if not isinstance(live, dict) or not isinstance(config, dict):
        return copy.deepcopy(config)
    merged = dict(live)
    for key, value in config.items():
        merged[key] = _merge(live.get(key), value)
    return merged


def _remove(obj: dict[str, Any], path: Path) -> None:
    """Remove a field, then the maps it leaves empty (below the top level)."""
    parents = [obj]
    for key in path[:-1]:
        node = parents[-1].get(key)
        if not isinstance(node, dict):
            return
        parents.append(node)
    parents[-1].pop(path[-1], None)
    for depth in range(len(parents) - 1, 1, -1):
        if not parents[depth]:
            parents[depth - 1].pop(path[depth - 1], None)


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
                      force: bool, subresource: str = "") -> tuple[dict[str, Any], list[Any]]:
    """The object to store (None for `live`: created) and its managedFields; raises the 409 of a conflict."""
    config = _without_nulls(config)
    meta = config["metadata"] = dict(config.get("metadata") or {})
    for server_field in ("managedFields", "uid", "generation", "creationTimestamp", "deletionTimestamp", "selfLink"):
        meta.pop(server_field, None)  # the server's, whatever the configuration says
    applied = field_paths(config, subresource, rt.has_status)
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
    result = _merge(result, config)
    owners[mine] = applied
    changed = set(taken) | ({mine} if applied != previous or result != live else set())
    return result, managed_fields(owners, live, rt.api_version, changed)
