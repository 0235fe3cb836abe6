"""Field ownership (`metadata.managedFields`) as an API server keeps it, for server-side apply.

A field is a path of map keys to a list or a scalar. An associative list (containers by name, a CRD's
`x-kubernetes-list-type: map`; mergekeys.py) is entered: its elements are path steps `k:{"name":"web"}`, as
in managedFields, so two managers own two containers apart. Any other list is one field as a whole.
Every write over HTTP records its manager: an update (POST, PUT, non-apply PATCH) takes the fields it changed
from every other manager; an apply (`fieldops.apply`) owns exactly the fields it sends and may conflict.
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Iterable, Iterator
from typing import Any

from chaos_sandbox.emulator.mergekeys import UNKNOWN, Shape

Path = tuple[str, ...]
Owners = dict[tuple[str, str, str], set[Path]]  # (manager, "Apply" | "Update", subresource) -> fields
# Metadata the server sets or that names the object: never owned by a manager.
UNOWNED_META = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                          "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"})
_MISSING = object()


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def item_token(item: Any, keys: tuple[str, ...]) -> str | None:
    """The path step of an associative list's element (None: not an element such a list can hold)."""
    if not isinstance(item, dict) or not any(key in item for key in keys):
        return None
    return "k:" + json.dumps({key: item[key] for key in keys if key in item}, separators=(",", ":"))


def item_tokens(items: list[Any], keys: tuple[str, ...]) -> list[str] | None:
    """Each element's path step, or None when the list cannot be merged by these keys (then it is atomic)."""
    tokens = [item_token(item, keys) for item in items] if keys else [None]
    if None in tokens or len(set(tokens)) != len(tokens):
        return None
    return [token for token in tokens if token is not None]


def _leaves(value: Any, prefix: Path, shape: Shape) -> Iterator[Path]:
    if isinstance(value, dict):  # an empty map owns nothing: applying `data: {}` takes no key from anyone
        for key, item in value.items():
            yield from _leaves(item, (*prefix, str(key)), shape.child(str(key)))
        return
    tokens = item_tokens(value, shape.keys) if isinstance(value, list) else None
    if tokens is None:  # a scalar or an atomic list (an empty associative list owns nothing, as an empty map)
        yield prefix
        return
    for token, item in zip(tokens, value, strict=True):
        yield from _leaves(item, (*prefix, token), shape.item())


def field_paths(obj: Any, subresource: str = "", has_status: bool = False, shape: Shape = UNKNOWN) -> set[Path]:
    """The fields an object (or an applied configuration) sets, within what one endpoint may write."""
    found: set[Path] = set()
    if not isinstance(obj, dict):
        return found
    for key, value in obj.items():
        if key in ("apiVersion", "kind") or (key != "status" if subresource == "status"
                                             else key == "status" and has_status):
            continue  # the status endpoint writes status only; the main one all else (and status if no endpoint)
        if key == "metadata" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in UNOWNED_META}
            if not value:
                continue
        found.update(_leaves(value, (key,), shape.child(key)))
    return found


def value_at(obj: Any, path: Path) -> Any:
    node = obj
    for key in path:
        if isinstance(node, list) and key.startswith("k:"):
            node = next((item for item in node if item_token(item, tuple(json.loads(key[2:]))) == key), _MISSING)
            if node is _MISSING:
                return _MISSING
        elif not isinstance(node, dict) or key not in node:
            return _MISSING
        else:
            node = node[key]
    return node


def overlaps(a: Path, b: Path) -> bool:
    """One field contains the other (or they are the same)."""
    return a[:len(b)] == b or b[:len(a)] == a


def _step(key: str) -> str:
    if not key.startswith("k:"):
        return f".{key}"
    return "[" + ",".join(f"{name}={json.dumps(value)}" for name, value in json.loads(key[2:]).items()) + "]"


def dotted(path: Path) -> str:
    """A field as a conflict names it: `.spec.template.spec.containers[name="web"].image`."""
    return "".join(_step(key) for key in path)


# ---- managedFields <-> Owners ----
def _encode(paths: Iterable[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            if key.startswith("k:"):
                node = node.setdefault(key, {".": {}})
            else:
                node = node.setdefault(f"f:{key}", {})
    return tree


def _decode(tree: Any, prefix: Path = ()) -> Iterator[Path]:
    if not isinstance(tree, dict):
        return
    children = [(key, value) for key, value in tree.items() if key.startswith(("f:", "k:"))]
    if not children and prefix:
        yield prefix
    for key, value in children:
        yield from _decode(value, (*prefix, key[2:] if key.startswith("f:") else key))


def owners_of(obj: Any) -> Owners:
    owners: Owners = {}
    entries = (obj or {}).get("metadata", {}).get("managedFields") or []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("manager") is not None:
            key = (str(entry["manager"]), str(entry.get("operation", "Update")), str(entry.get("subresource", "")))
            owners.setdefault(key, set()).update(_decode(entry.get("fieldsV1")))
    return owners


def managed_fields(owners: Owners, before: Any, api_version: str, changed: set[tuple[str, str, str]]) -> list[Any]:
    """`metadata.managedFields` for `owners`: an entry keeps its time unless its fields changed."""
    old = {(e.get("manager"), e.get("operation"), e.get("subresource", "")): e
           for e in (before or {}).get("metadata", {}).get("managedFields") or [] if isinstance(e, dict)}
    entries = []
    for key in sorted(owners):
        if not owners[key]:
            continue
        manager, operation, subresource = key
        previous = old.get(key)
        if previous is not None and key not in changed:
            entries.append(copy.deepcopy(previous))
            continue
        entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now(),
                 "fieldsType": "FieldsV1", "fieldsV1": _encode(owners[key])}
        if subresource:
            entry["subresource"] = subresource
        entries.append(entry)
    return entries


def _set_managed(obj: dict[str, Any], entries: list[Any]) -> None:
    meta = obj.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


def track_update(new: dict[str, Any], old: dict[str, Any] | None, manager: str, subresource: str,
                 has_status: bool, shape: Shape = UNKNOWN) -> dict[str, Any]:
    """Record a non-apply write: `manager` takes every field it changed from the others (updates always force).
    What the client sent as managedFields is ignored: ownership follows the stored object."""
    scope = field_paths(new, subresource, has_status, shape) | field_paths(old, subresource, has_status, shape)
    changed = {path for path in scope if value_at(new, path) != value_at(old, path)}
    owners = owners_of(old)
    touched: set[tuple[str, str, str]] = set()
    for key, paths in owners.items():
        if any(overlaps(p, c) for p in paths for c in changed):
            paths.difference_update({p for p in paths if any(overlaps(p, c) for c in changed)})
            touched.add(key)
    mine = (manager, "Update", subresource)
    present = {path for path in changed if value_at(new, path) is not _MISSING}
    if present:
        owners.setdefault(mine, set()).update(present)
        touched.add(mine)
    result = copy.deepcopy(new)
    _set_managed(result, managed_fields(owners, old, str(new.get("apiVersion", "")), touched))
    return result
