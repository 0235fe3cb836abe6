"""The CRD schema and the pydantic models describe the same fields, node by node: names, required-ness, types,
enums, bounds, patterns and defaults. Rules that live in validators (ranges of durations, mode/value, ...)
are covered by the malformed manifests in test_malformed.py."""

from __future__ import annotations

import enum
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from chaos_operator.cli.validate.cel import Schema, apply_defaults
from chaos_operator.models.crd import openapi_schema
from chaos_operator.models.duration import DURATION_PATTERN, PERCENT_PATTERN, Duration, Percent
from chaos_operator.models.spec import LABEL_KEY, LABEL_VALUE, ExperimentSpec
from chaos_operator.models.status import ExperimentStatus

# Kind-specific fault fields carry no schema default (it would land on every other kind); the models default them.
UNDEFAULTED_IN_CRD = {f"spec.fault.{name}" for name in ("gracePeriodSeconds", "jitter", "correlation", "workers",
                                                        "load", "direction")}
DURATION_MAX_LENGTH = 48  # 4 parts of 6 digits, '.', 3 digits and a 2-letter unit: the pattern's own bound
PERCENT_MAX_LENGTH = 8  # 9999.99%


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """(the type without Optional/Annotated, the constraint metadata found on the way)."""
    meta: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            inner, *extras = get_args(annotation)
            for extra in extras:
                meta.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
            annotation = inner
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) > 1:
                return typing.Union[tuple(members)], meta  # noqa: UP007  (a union of fault kinds)
            annotation = members[0]
        else:
            return annotation, meta


def _constraint(meta: list[Any], name: str) -> Any:
    values = [getattr(m, name) for m in meta if getattr(m, name, None) is not None]
    return values[-1] if values else None


def _serialise(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, Duration | Percent):
        return str(value)
    if isinstance(value, list):
        return [_serialise(v) for v in value]
    return value


def _check_type(path: str, tp: Any, meta: list[Any], node: Schema) -> None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        _check_model(path, [tp], node)
        return
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        _check_model(path, list(get_args(tp)), node)
        return
    if origin is Literal:
        assert node["type"] == "string" and node["enum"] == list(get_args(tp)), path
        return
    if isinstance(tp, type) and issubclass(tp, enum.StrEnum):
        assert node["type"] == "string" and node["enum"] == [m.value for m in tp], path
        return
    if tp in (Duration, Percent):
        pattern, length = (DURATION_PATTERN, DURATION_MAX_LENGTH) if tp is Duration else (PERCENT_PATTERN,
                                                                                          PERCENT_MAX_LENGTH)
        assert (node["type"], node["pattern"], node["maxLength"]) == ("string", pattern, length), path
        return
    if origin is list:
        assert node["type"] == "array", path
        assert (node.get("minItems"), node.get("maxItems")) == (_constraint(meta, "min_length"),
                                                                _constraint(meta, "max_length")), path
        item, item_meta = _unwrap(get_args(tp)[0])
        _check_type(f"{path}[]", item, item_meta, node["items"])
        return
    if origin is dict:
        assert node["type"] == "object" and "properties" not in node, path
        assert (node.get("minProperties"), node.get("maxProperties")) == (_constraint(meta, "min_length"),
                                                                          _constraint(meta, "max_length")), path
        return
    expected = {bool: "boolean", int: "integer", float: "number", str: "string"}[tp]
    assert node["type"] == expected, path
    if tp in (int, float):
        assert (node.get("minimum"), node.get("maximum")) == (_constraint(meta, "ge"), _constraint(meta, "le")), path
    if tp is str:
        assert (node.get("minLength"), node.get("maxLength"), node.get("pattern")) == (
            _constraint(meta, "min_length"), _constraint(meta, "max_length"), _constraint(meta, "pattern")), path


def _merged_fields(path: str, models: list[type[BaseModel]]) -> dict[str, FieldInfo]:
    """The fields of one model, or of every member of a union: a field shared by several members must mean the
    same on each (type, bounds, default); the discriminator's literals are merged into one enum."""
    merged: dict[str, FieldInfo] = {}
    literals: dict[str, list[Any]] = {}
    for model in models:
        for name, field in model.model_fields.items():
            alias = field.alias or name
            if len(models) > 1 and alias == "kind" and get_origin(field.annotation) is Literal:  # the discriminator
                literals.setdefault(alias, []).extend(get_args(field.annotation))
            elif alias in merged:
                seen = merged[alias]
                # Required on one kind and optional on another (NetworkPartition's destinations) is what the CRD
                # says with a per-kind CEL rule; type, bounds and any default must still be the same.
                either_required = seen.is_required() or field.is_required()
                def shape(f: FieldInfo) -> tuple[Any, list[Any]]:
                    tp, meta = _unwrap(f.annotation)
                    return tp, [*f.metadata, *meta]

                same = shape(seen) == shape(field) and (either_required or seen.default == field.default)
                assert same, f"{path}.{alias} differs between the members of the union"
            merged.setdefault(alias, field)
    for alias, values in literals.items():
        assert len(values) == len(set(values)), f"{path}.{alias}: a kind appears twice in the union"
        merged[alias] = FieldInfo.from_annotation(Literal[tuple(values)])  # type: ignore[arg-type]
    return merged


def _check_model(path: str, models: list[type[BaseModel]], node: Schema) -> None:
    """One object node against a model, or against a union of models (fields of every member, kind-discriminated;
    only what every member requires is required in the schema, the rest is said by CEL rules)."""
    assert node["type"] == "object", path
    fields = _merged_fields(path, models)
    assert set(node["properties"]) == set(fields), path
    required = set.intersection(*({f.alias or n for n, f in m.model_fields.items() if f.is_required()}
                                  for m in models))
    assert set(node.get("required", [])) == required, path
    for alias, field in fields.items():
        child = node["properties"][alias]
        where = f"{path}.{alias}"
        tp, meta = _unwrap(field.annotation)
        _check_type(where, tp, [*field.metadata, *meta], child)
        default = field.default
        if default is PydanticUndefined or default is None or where in UNDEFAULTED_IN_CRD:
            assert "default" not in child, where
        else:
            assert apply_defaults(child, child["default"]) == _serialise(default), where


@pytest.mark.parametrize(("field", "model"), [("spec", ExperimentSpec), ("status", ExperimentStatus)])
def test_schema_and_model_have_the_same_fields_types_bounds_and_defaults(field: str, model: type[BaseModel]) -> None:
    _check_model(field, [model], openapi_schema()["properties"][field])


def test_label_rules_that_live_in_validators_match_the_crd() -> None:
    labels = openapi_schema()["properties"]["spec"]["properties"]["target"]["properties"]["selector"][
        "properties"]["matchLabels"]
    assert labels["additionalProperties"]["pattern"] == LABEL_VALUE
    assert labels["additionalProperties"]["maxLength"] == 63
    (rule,) = labels["x-kubernetes-validations"]
    # The CEL literal spells the model's \. as [.] (no escapes inside a CEL string).
    assert f"k.matches('{LABEL_KEY.replace(chr(92) + '.', '[.]')}')" in rule["rule"]
    assert "size(k) <= 317" in rule["rule"]
