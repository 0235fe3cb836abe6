"""What the API server does to a custom object before storing it, emulated: drop `null`s, prune fields the
CRD's structural schema does not declare, apply defaults, and refuse (422 Invalid, each cause naming its
field) what the schema or its CEL rules reject. The checks are the operator's own
(`chaos_operator.cli.validate.document`).

Unknown fields follow the request's `fieldValidation`: `Strict` (kubectl's default) refuses them with 400,
`Warn` (any other client's default) prunes them with a `Warning` header, `Ignore` prunes them silently.
On update, problems in fields the write left unchanged are tolerated (the server's validation ratcheting),
so a status write never fails over a spec stored by an older CRD.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from chaos_operator.cli.validate.cel import UNSET, apply_defaults, format_path, prune_nulls
from chaos_operator.cli.validate.document import Problem, schema_problems, schema_validator
from chaos_sandbox.emulator.resources import ApiError, api_error

Obj = dict[str, Any]
ENVELOPE = ("apiVersion", "kind", "metadata")
_PATH_PART = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[([^\]]*)\]")
_MISSING = object()
_validators: dict[int, tuple[Mapping[str, Any], Any]] = {}  # by id(schema); holds the schema, so ids stay unique


def _validator(schema: Mapping[str, Any]) -> Any:
    cached = _validators.get(id(schema))
    if cached is None:
        if len(_validators) >= 32:  # CRDs re-registered many times: forget the oldest
            del _validators[next(iter(_validators))]
        cached = _validators[id(schema)] = (schema, schema_validator(dict(schema)))  # the CRD's own dict
    return cached[1]


def prune_unknown(schema: Mapping[str, Any], value: Any, path: tuple[str | int, ...] = ()) -> Iterator[str]:
    """Remove, in place, the fields of `value` that `schema` does not declare; yield each one's path."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        props, extra = schema.get("properties") or {}, schema.get("additionalProperties")
        for key in list(value):
            if not path and key in ENVELOPE:
                continue
            if key in props:
                yield from prune_unknown(props[key], value[key], (*path, key))
            elif isinstance(extra, dict):
                yield from prune_unknown(extra, value[key], (*path, key))
            elif extra is not True:
                del value[key]
                yield format_path((*path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from prune_unknown(schema["items"], item, (*path, index))


def _at(obj: Any, path: str) -> Any:
    node = obj
    for match in _PATH_PART.finditer(path):
        key, bracket = match.groups()
        if isinstance(node, list) and bracket is not None and bracket.isdigit():
            node = node[int(bracket)] if int(bracket) < len(node) else _MISSING
        elif isinstance(node, dict):
            node = node.get(key if key is not None else bracket, _MISSING)
        else:
            return _MISSING
    return node


def _invalid(obj: Obj, problems: list[Problem]) -> ApiError:
    meta = obj.get("metadata") or {}
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    kind, name = str(obj.get("kind", "")), str(meta.get("name", ""))
    causes = [{"reason": "FieldValueRequired" if p.message == "required value" else "FieldValueInvalid",
               "message": p.message, "field": p.path} for p in problems]
    listed = [str(p) for p in problems]
    summary = listed[0] if len(listed) == 1 else f"[{', '.join(listed)}]"
    return api_error(422, "Invalid", f'{kind}.{group} "{name}" is invalid: {summary}',
                     name=name, group=group, kind=kind, causes=causes)


class DryRun(Exception):
    """Raised instead of storing, for `?dryRun=All`: carries the object the write would have stored."""

    def __init__(self, obj: Obj) -> None:
        super().__init__("dry run")
        self.obj = obj


class Admission:
    """One write's admission step: checks for a kind with a CRD schema (`check`), and whether it is a
    `?dryRun=All`; `warnings` go in the response."""

    def __init__(self, schema: Mapping[str, Any] | None, field_validation: str, enabled: bool = True,
                 dry_run: bool = False) -> None:
        self.schema = schema if enabled and isinstance(schema, Mapping) else None
        self.field_validation = field_validation
        self.dry_run = dry_run
        self.warnings: list[str] = []
        # ValidatingAdmissionPolicies (vap.py), after the schema: warnings, or raises the refusal.
        self.policies: Callable[[Obj, Obj | None], list[str]] | None = None

    def check(self, obj: Obj, old: Obj | None) -> Obj:
        """The object to store, pruned and defaulted; raises 400 or 422 as a real server refuses it."""
        assert self.schema is not None
        schema = dict(self.schema)
        candidate = copy.deepcopy(obj)
        unknown = list(prune_unknown(schema, candidate))
        if unknown and self.field_validation == "Strict":
            version = str(obj.get("apiVersion", "")).rpartition("/")[2]
            fields = ", ".join(f'unknown field "{path}"' for path in unknown)
            raise api_error(400, "BadRequest", f'{obj.get("kind")} in version "{version}" cannot be '
                            f"handled as a {obj.get('kind')}: strict decoding error: {fields}")
        if self.field_validation != "Ignore":
            self.warnings.extend(f'unknown field "{path}"' for path in unknown)
        meta = candidate.pop("metadata", {})
        stored_before = UNSET if old is None else {k: v for k, v in old.items() if k != "metadata"}
        problems = schema_problems(schema, _validator(self.schema), candidate, stored_before)
        if old is not None:  # ratcheting: what this write did not change may stay as it was
            problems = [p for p in problems if _at(candidate, p.path) != _at(old, p.path)]
        if problems:
            raise _invalid(obj, problems)
        stored = apply_defaults(schema, prune_nulls(schema, candidate))
        if old is not None:
            # Sections this write left as they were stay so (a real server defaulted them when they were stored;
            # in-process writers skip that): a status write must not bump the generation by defaulting the spec.
            stored.update({key: value for key, value in candidate.items() if value == old.get(key, _MISSING)})
        return {"metadata": meta, **stored}
