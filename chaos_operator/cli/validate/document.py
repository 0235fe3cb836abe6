"""Offline validation of ChaosExperiment manifests: what ``kubectl apply`` would be told, and what the operator
would say, without a cluster.

A manifest is checked three ways and the problems are merged, each naming the field:
1. the CRD's openAPIV3Schema with jsonschema in strict field validation (unknown fields are errors, like
   ``kubectl apply``'s default ``--validate=strict``), after null-pruning and defaulting as the API server does;
2. every ``x-kubernetes-validations`` CEL rule of the CRD, at its node (validation_cel);
3. the pydantic models the operator validates with before any side effect.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import re2  # type: ignore[import-untyped]  # RE2, as the API server's regexes; a dependency of cel-python
import yaml
from pydantic import ValidationError

from chaos_operator.cli.validate.cel import (
    UNSET,
    PathPart,
    Schema,
    apply_defaults,
    cel_problems,
    format_path,
    prune_nulls,
)
from chaos_operator.models import GROUP, KIND, VERSION
from chaos_operator.models.crd import openapi_schema
from chaos_operator.models.errors import problems as model_error_problems
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import ExperimentStatus

API_VERSION = f"{GROUP}/{VERSION}"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


@dataclass(frozen=True)
class Problem:
    path: str  # e.g. spec.load.rate; empty for the document itself
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


# -- the CRD side -------------------------------------------------------------------------------------


def _strict(schema: Schema) -> Schema:
    """A copy where every object with ``properties`` refuses other fields."""
    out = {k: _strict(v) if k in ("items", "additionalProperties") and isinstance(v, dict) else v
           for k, v in schema.items()}
    if "properties" in schema:
        out["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
        out["additionalProperties"] = False
    return out


def _re2_pattern(validator: Any, pattern: str, instance: Any, schema: Schema) -> Iterator[jsonschema.ValidationError]:
    if validator.is_type(instance, "string") and re2.search(pattern, instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match the pattern {pattern}")


_Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"pattern": _re2_pattern})


def schema_validator(schema: Schema) -> Any:
    """A jsonschema validator of a CRD version's structural schema in strict field validation, with RE2 patterns."""
    return _Validator(_strict(schema))


@functools.cache
def _crd_schemas() -> tuple[Schema, Any]:
    schema = openapi_schema()
    return schema, schema_validator(schema)


def _schema_error_problems(error: jsonschema.ValidationError) -> list[Problem]:
    here = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        return [Problem(format_path((*here, key)), f'unknown field "{key}"')
                for key in sorted(set(error.instance) - set(known))]
    if error.validator == "required" and isinstance(error.instance, dict):
        return [Problem(format_path((*here, key)), "required value") for key in error.validator_value
                if key not in error.instance]
    return [Problem(format_path(here), error.message)]


def _non_finite(value: Any, path: tuple[PathPart, ...] = ()) -> Iterator[Problem]:
    """YAML's .inf/.nan cannot be sent as JSON: kubectl refuses them before any schema is consulted."""
    if isinstance(value, float) and not math.isfinite(value):
        yield Problem(format_path(path), f"{value} is not a finite number")
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _non_finite(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _non_finite(child, (*path, index))


def crd_problems(doc: dict[str, Any]) -> list[Problem]:
    """What the API server would refuse in ``doc`` (spec, and status if present), by the CRD alone."""
    schema, validator = _crd_schemas()
    return schema_problems(schema, validator, doc)


def schema_problems(schema: Schema, validator: Any, doc: dict[str, Any], old: Any = UNSET) -> list[Problem]:
    """What the API server would refuse in ``doc`` by a CRD version's schema (``validator`` is its
    ``schema_validator``) and its CEL rules, after null-pruning and defaulting; on update (``old``, the stored
    object), CEL rules of unchanged nodes are not evaluated again."""
    found = list(_non_finite(doc))
    if found:
        return found
    body = apply_defaults(schema, prune_nulls(schema, doc))
    for error in validator.iter_errors(body):
        found.extend(_schema_error_problems(error))
    # A rule is not evaluated where its node, or a field it reads, already failed the schema.
    skip = {p.path for p in found} | {re.sub(r"(\.[^.\[]+|\[[^\]]*\])$", "", p.path) for p in found}
    if old is not UNSET:
        old = apply_defaults(schema, prune_nulls(schema, old))
    found.extend(Problem(path, message) for path, message in cel_problems(schema, body, (), frozenset(skip), old))
    return found


# -- the models side ----------------------------------------------------------------------------------


def model_problems(doc: dict[str, Any]) -> list[Problem]:
    """What the operator's pydantic models refuse in ``doc``'s spec (and status if present).

    The models see the document as the operator would: without ``null`` fields, which the API server drops.
    """
    found: list[Problem] = []
    doc = prune_nulls(_crd_schemas()[0], doc)
    checks: list[tuple[str, Any]] = [("spec", ExperimentSpec)]
    if "status" in doc:
        checks.append(("status", ExperimentStatus))
    for field, model in checks:
        if field not in doc:
            found.append(Problem(field, "required value"))
            continue
        try:
            model.model_validate(doc[field])
        except ValidationError as exc:
            found.extend(Problem(path, message) for path, message in model_error_problems(exc, field))
    return found


# -- the envelope and the merge -----------------------------------------------------------------------


def _dns_subdomain(value: Any, suffix: str = "") -> bool:
    if not isinstance(value, str) or len(value + suffix) > 253:
        return False
    return re2.search(DNS_SUBDOMAIN, value + suffix) is not None


def envelope_problems(doc: dict[str, Any]) -> list[Problem]:
    """apiVersion, kind and metadata.name, which the CRD schema does not describe."""
    found: list[Problem] = []
    if doc.get("apiVersion") != API_VERSION:
        found.append(Problem("apiVersion", f"must be {API_VERSION}, not {doc.get('apiVersion')!r}"))
    if doc.get("kind") != KIND:
        found.append(Problem("kind", f"must be {KIND}, not {doc.get('kind')!r}"))
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        return [*found, Problem("metadata", "required object with a name")]
    name, generate = meta.get("name"), meta.get("generateName")
    if name is None and generate is None:
        found.append(Problem("metadata.name", "name or generateName is required"))
    # generateName is a prefix: with any suffix appended it must make a valid name.
    for field, value, suffix in (("name", name, ""), ("generateName", generate, "x")):
        if value is not None and not _dns_subdomain(value, suffix):
            found.append(Problem(f"metadata.{field}", f"{value!r} is not a DNS-1123 subdomain (lowercase "
                                                      "alphanumerics, '-' and '.', at most 253 characters)"))
    namespace = meta.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or len(namespace) > 63
                                  or re2.search(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", namespace) is None):
        found.append(Problem("metadata.namespace", f"{namespace!r} is not a DNS-1123 label"))
    return found


def validate_manifest(doc: Any) -> list[Problem]:
    """Every problem with one decoded manifest; empty when the API server and the operator would accept it.

    The CRD's findings come first; a model finding is added when no CRD finding names the same field.
    """
    if not isinstance(doc, dict):
        return [Problem("", f"a manifest must be a mapping, not {type(doc).__name__}")]
    found = envelope_problems(doc)
    crd = crd_problems(doc)
    seen = {p.path for p in crd}
    merged = [*found, *crd, *(p for p in model_problems(doc) if p.path not in seen)]
    return list(dict.fromkeys(merged))


# -- files and the command line -----------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML as kubectl reads it: timestamps stay strings, a repeated key is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=True) for key, _ in node.value]
        for key in keys:
            if keys.count(key) > 1:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _json_keys(value: Any) -> Any:
    """Map keys as JSON has them (kubectl turns ``1:`` and ``true:`` keys into strings)."""
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else json.dumps(k)): _json_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_keys(v) for v in value]
    return value


def load_documents(text: str) -> list[Any]:
    """The non-empty documents of a multi-document YAML text; raises yaml.YAMLError."""
    return [_json_keys(doc) for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]


def _file_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            docs = load_documents(handle.read())
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{path}: cannot read: {exc}"]
    except yaml.YAMLError as exc:
        return [f"{path}: not valid YAML: {' '.join(str(exc).split())}"]
    if not docs:
        return [f"{path}: no document in the file"]
    lines: list[str] = []
    for index, doc in enumerate(docs, start=1):
        where = f"{path}#{index}" if len(docs) > 1 else path
        lines.extend(f"{where}: {problem}" for problem in validate_manifest(doc))
    return lines


def validate_files(paths: Iterable[str]) -> int:
    """Print ``FILE: OK`` or one ``FILE: path: message`` line per problem; 1 when any file is invalid."""
    status = 0
    for path in paths:
        lines = _file_lines(path)
        if lines:
            status = 1
        print("\n".join(lines) if lines else f"{path}: OK")
    return status

