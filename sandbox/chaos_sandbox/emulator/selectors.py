"""Label and field selectors with the Kubernetes query syntax, for the API emulator.

Pure functions: parse once (raising `SelectorError` on bad syntax, which the emulator turns into
HTTP 400), then match parsed selectors against object dicts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = rf"(?:[a-z0-9](?:[-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}"
_VALUE = rf"(?:{_NAME})?"
_SET_RE = re.compile(rf"\s*({_KEY})\s+(in|notin)\s*\(([^()]*)\)\s*")
_EQ_RE = re.compile(rf"\s*({_KEY})\s*(==|!=|=)\s*({_VALUE})\s*")
_EXISTS_RE = re.compile(rf"\s*(!?)\s*({_KEY})\s*")
_VALUE_RE = re.compile(rf"\s*({_VALUE})\s*")


class SelectorError(ValueError):
    """A selector that a real API server would refuse with 400 Bad Request."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # one of: = != in notin exists !exists (== is normalised to =)
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values  # != and notin match objects lacking the key


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside `in (...)` value lists."""
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced parenthesis in {text!r}")
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth:
        raise SelectorError(f"unbalanced parenthesis in {text!r}")
    parts.append(text[start:])
    return parts


def _parse_requirement(text: str) -> Requirement:
    if match := _SET_RE.fullmatch(text):
        key, op, raw_values = match.groups()
        values = []
        for raw in raw_values.split(","):
            value_match = _VALUE_RE.fullmatch(raw)
            if value_match is None:
                raise SelectorError(f"invalid label value {raw.strip()!r}")
            values.append(value_match.group(1))
        if values == [""]:
            raise SelectorError(f"for '{op}', the set of values cannot be empty: {text!r}")
        return Requirement(key, op, frozenset(values))
    if match := _EQ_RE.fullmatch(text):
        key, op, value = match.groups()
        return Requirement(key, "=" if op in ("=", "==") else "!=", frozenset([value]))
    if match := _EXISTS_RE.fullmatch(text):
        negated, key = match.groups()
        return Requirement(key, "!exists" if negated else "exists")
    raise SelectorError(f"unable to parse requirement {text.strip()!r}")


def parse_label_selector(text: str | None) -> tuple[Requirement, ...]:
    """Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h`; empty or None selects everything."""
    if not text or not text.strip():
        return ()
    return tuple(_parse_requirement(part) for part in _split_top_level(text))


def labels_match(requirements: tuple[Requirement, ...], obj: Mapping[str, Any]) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(requirement.matches(labels) for requirement in requirements)


def _nested(*path: str) -> Callable[[Mapping[str, Any]], str]:
    def get(obj: Mapping[str, Any]) -> str:
        value: Any = obj
        for step in path:
            value = value.get(step) if isinstance(value, Mapping) else None
        return "" if value is None else str(value)
    return get


# The real server allows a per-resource set of field labels; we allow one shared set and refuse the rest.
FIELD_GETTERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "metadata.name": _nested("metadata", "name"),
    "metadata.namespace": _nested("metadata", "namespace"),
    "status.phase": _nested("status", "phase"),
    "spec.nodeName": _nested("spec", "nodeName"),
    "involvedObject.kind": _nested("involvedObject", "kind"),
    "involvedObject.name": _nested("involvedObject", "name"),
    "involvedObject.namespace": _nested("involvedObject", "namespace"),
    "involvedObject.uid": _nested("involvedObject", "uid"),
}
_FIELD_RE = re.compile(r"\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*([^,]*?)\s*")


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (FIELD_GETTERS[self.field](obj) == self.value) == self.equal


def parse_field_selector(text: str | None) -> tuple[FieldRequirement, ...]:
    """Parse `metadata.name=x,status.phase!=Running`; only equality operators exist for fields."""
    if not text or not text.strip():
        return ()
    result = []
    for part in text.split(","):
        match = _FIELD_RE.fullmatch(part)
        if match is None:
            raise SelectorError(f"invalid field selector {part.strip()!r}")
        field, op, value = match.groups()
        if field not in FIELD_GETTERS:
            raise SelectorError(f"field label not supported: {field}")
        result.append(FieldRequirement(field, op != "!=", value))
    return tuple(result)


def fields_match(requirements: tuple[FieldRequirement, ...], obj: Mapping[str, Any]) -> bool:
    return all(requirement.matches(obj) for requirement in requirements)


@dataclass(frozen=True)
class Selector:
    """Both selectors of one list or watch request."""

    labels: tuple[Requirement, ...] = ()
    fields: tuple[FieldRequirement, ...] = ()

    @classmethod
    def parse(cls, label_selector: str | None, field_selector: str | None) -> Selector:
        return cls(parse_label_selector(label_selector), parse_field_selector(field_selector))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return labels_match(self.labels, obj) and fields_match(self.fields, obj)
