"""What the API server does to a custom resource around its schema, emulated offline.

Pure functions over a structural schema (a dict) and a decoded manifest:
- ``prune_nulls`` and ``apply_defaults``: the API server drops ``null`` fields that are not nullable, then
  applies schema defaults, before it validates anything;
- ``cel_problems``: every ``x-kubernetes-validations`` rule, evaluated with celpy at its node with ``self``
  bound to the node's value (typed as the schema says), skipping absent nodes as the API server does.

``matches()`` in celpy uses RE2, like Kubernetes, so ``$`` means end of text there too.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

Schema = dict[str, Any]
PathPart = str | int
UNSET: Any = object()  # no old value: a create, or a field the stored object lacks
Found = tuple[str, str]  # (field path, message)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OLD_SELF = re.compile(r"\boldSelf\b")
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}

logging.getLogger("celpy").setLevel(logging.WARNING)  # celpy logs every evaluation step at DEBUG


def format_path(parts: Sequence[PathPart]) -> str:
    """``spec.prometheus.queries[0].name``; map keys that are not identifiers go in brackets."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part}]"
    return out


def has_type(schema: Schema, value: Any) -> bool:
    """Whether ``value`` is of the schema node's type (bool is never an integer or a number)."""
    kind = schema.get("type")
    if kind is None:
        return True
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, _PYTHON_TYPES.get(kind, (object,)))


def _children(schema: Schema, value: Any) -> Iterator[tuple[PathPart, Schema, Any]]:
    """(key, schema, value) of the node's present children that the schema describes."""
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            if isinstance(props, dict) and key in props:
                yield key, props[key], child
            elif isinstance(extra, dict):
                yield key, extra, child
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, child in enumerate(value):
            yield index, schema["items"], child


def prune_nulls(schema: Schema, value: Any) -> Any:
    """A copy without ``null`` object fields (none of our fields is nullable)."""
    if isinstance(value, dict):
        kept = {k: v for k, v in value.items() if v is not None}
        return {k: _prune_child(schema, k, v) for k, v in kept.items()}
    if isinstance(value, list):
        return [prune_nulls(schema.get("items") or {}, item) for item in value]
    return value


def _prune_child(schema: Schema, key: str, value: Any) -> Any:
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    child = props.get(key, extra if isinstance(extra, dict) else {})
    return prune_nulls(child, value)


def apply_defaults(schema: Schema, value: Any) -> Any:
    """A copy with every absent property that has a ``default`` set to it, recursively (defaults too)."""
    if isinstance(value, dict) and has_type(schema, value):
        value = dict(value)
        for key, child in (schema.get("properties") or {}).items():
            if key not in value and "default" in child:
                value[key] = copy.deepcopy(child["default"])
        for key, child_schema, child in list(_children(schema, value)):
            value[key] = apply_defaults(child_schema, child)
        return value
    if isinstance(value, list) and has_type(schema, value):
        return [apply_defaults(child_schema, child) for _, child_schema, child in _children(schema, value)]
    return value


def to_cel(schema: Schema, value: Any) -> celtypes.Value:
    """The CEL value the API server binds: integers stay int, ``number`` fields are double even when whole."""
    if not has_type(schema, value):
        return json_to_cel(value)
    kind = schema.get("type")
    if kind == "number":
        return celtypes.DoubleType(float(value))
    if kind == "integer":
        return celtypes.IntType(value)
    if kind == "boolean":
        return celtypes.BoolType(value)
    if kind == "string":
        return celtypes.StringType(value)
    if kind == "array":
        return celtypes.ListType([to_cel(s, v) for _, s, v in _children(schema, value)])
    if kind == "object" and ("properties" in schema or "additionalProperties" in schema):
        # Unknown fields are pruned by the API server before the rules see the object.
        return celtypes.MapType({celtypes.StringType(str(k)): to_cel(s, v) for k, s, v in _children(schema, value)})
    return json_to_cel(value)


@functools.cache
def _environment() -> celpy.Environment:
    return celpy.Environment()


@functools.cache
def compile_rule(rule: str) -> celpy.Runner:
    """A runnable program for one rule; raises ``celpy.CELParseError`` when the rule is not valid CEL."""
    env = _environment()
    return env.program(env.compile(rule))


def evaluate_rule(rule: str, self_value: celtypes.Value, old_value: celtypes.Value | None = None) -> bool | str:
    """True when the rule holds, False when it does not, or the evaluation error as text. ``old_value`` is bound
    as ``oldSelf`` (a transition rule, on update)."""
    bindings = {"self": self_value} if old_value is None else {"self": self_value, "oldSelf": old_value}
    try:
        result = compile_rule(rule).evaluate(bindings)
    except CELEvalError as exc:
        return f"rule evaluation failed: {exc.args[0] if exc.args else exc}"
    if isinstance(result, CELEvalError):
        return f"rule evaluation failed: {result.args[0] if result.args else result}"
    if not isinstance(result, celtypes.BoolType):
        return f"rule returned {type(result).__name__}, not a bool"
    return bool(result)


def iter_rules(schema: Schema, path: tuple[PathPart, ...] = ()) -> Iterator[tuple[str, dict[str, Any]]]:
    """(schema path, rule) for every rule in the schema, for checks on the CRD itself."""
    for rule in schema.get("x-kubernetes-validations") or []:
        yield format_path(path), rule
    for key, child in (schema.get("properties") or {}).items():
        yield from iter_rules(child, (*path, key))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from iter_rules(schema[key], (*path, f"<{key}>"))


def cel_problems(
    schema: Schema, value: Any, path: tuple[PathPart, ...] = (), skip: frozenset[str] = frozenset(),
    old: Any = UNSET,
) -> list[Found]:
    """Every failing rule under ``schema`` for ``value``; nodes whose path is in ``skip`` are not evaluated
    (they, or a field they read, already failed the structural schema). With ``old`` (the stored value, on
    update), nodes equal to their old value are not evaluated either: the API server's validation ratcheting.
    A transition rule (one that reads ``oldSelf``) is evaluated only where there is an old value, as on a cluster."""
    found: list[Found] = []
    if not has_type(schema, value) or (old is not UNSET and old == value):
        return found
    here = format_path(path)
    rules = schema.get("x-kubernetes-validations") or []
    if rules and here not in skip:
        self_value = to_cel(schema, value)
        old_value = None if old is UNSET else to_cel(schema, old)
        for rule in rules:
            transition = _OLD_SELF.search(rule["rule"]) is not None
            if transition and old_value is None:
                continue
            outcome = evaluate_rule(rule["rule"], self_value, old_value if transition else None)
            if outcome is True:
                continue
            where = here + rule.get("fieldPath", "") if here else rule.get("fieldPath", "").lstrip(".")
            found.append((where, rule["message"] if outcome is False else f"{rule['message']} ({outcome})"))
    for key, child_schema, child in _children(schema, value):
        found.extend(cel_problems(child_schema, child, (*path, key), skip, _child(old, key)))
    return found


def _child(old: Any, key: PathPart) -> Any:
    if isinstance(old, dict) and isinstance(key, str):
        return old.get(key, UNSET)
    if isinstance(old, list) and isinstance(key, int) and key < len(old):
        return old[key]
    return UNSET
