"""The experiment `submit` creates: a manifest or template, `--set` overrides, labels, names (pure but for reading
the file). Everything is validated like any manifest before anything is sent."""

from __future__ import annotations

import datetime
import re
from typing import Any

import yaml

from chaos_operator.cli.validate.document import load_documents, validate_manifest
from chaos_operator.models.crd import openapi_schema
from chaos_operator.models.spec import LABEL_KEY, LABEL_VALUE

SCHEDULE_LABEL = "chaosoperator.dev/schedule"
SUBMITTED_ANNOTATION = "chaosoperator.dev/submitted-at"  # orders a schedule's runs finer than creationTimestamp
KEPT_METADATA = ("name", "generateName", "namespace", "labels", "annotations")


class BadInput(Exception):
    """The manifest, an override or an option is wrong; nothing was created."""


def read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            docs = load_documents(handle.read())
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise BadInput(f"{path}: expected exactly one ChaosExperiment manifest, found {len(docs)} document(s)")
    return docs[0]


def _split_key(key: str) -> list[str]:
    """`a.b.c`, where `\\.` is a dot inside one key (e.g. a label `app\\.kubernetes\\.io/name`)."""
    return [part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", key)]


def _convert(raw: str, node: dict[str, Any], where: str) -> Any:
    kind = node.get("type")
    if kind == "string":
        return raw
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise BadInput(f"--set {where}: {raw!r} is not a value: {' '.join(str(exc).split())}") from exc
    types: dict[str, type | tuple[type, ...]] = {"integer": int, "number": (int, float), "boolean": bool,
                                                 "array": list, "object": dict}
    wanted = types.get(str(kind))
    if wanted is not None and (not isinstance(value, wanted) or (kind != "boolean" and isinstance(value, bool))):
        raise BadInput(f"--set {where}: {raw!r} is not a{'n' if str(kind)[0] in 'aio' else ''} {kind}")
    return value


def set_value(spec: dict[str, Any], assignment: str) -> None:
    """One `--set key=value` into spec, typed by the CRD schema; unknown fields are refused."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise BadInput(f"--set {assignment!r}: expected key=value, e.g. phases.chaos=3m")
    parts = _split_key(key.removeprefix("spec."))
    node = openapi_schema()["properties"]["spec"]
    target = spec
    for index, part in enumerate(parts):
        where = ".".join(["spec", *parts[:index + 1]])
        props = node.get("properties") or {}
        if part in props:
            child = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            child = node["additionalProperties"]
        else:
            known = ", ".join(sorted(props)) or "none"
            raise BadInput(f"--set {key}: {where} is not a field (fields here: {known})")
        if index == len(parts) - 1:
            if raw == "null":
                target.pop(part, None)
            else:
                target[part] = _convert(raw, child, where)
            return
        if child.get("type") != "object":
            raise BadInput(f"--set {key}: {where} is a {child.get('type')}, not an object")
        existing = target.get(part)
        if existing is None:
            existing = target[part] = {}
        elif not isinstance(existing, dict):
            raise BadInput(f"--set {key}: {where} is not an object in the manifest")
        target, node = existing, child


def _label(assignment: str) -> tuple[str, str]:
    key, sep, value = assignment.partition("=")
    if (not sep or not re.fullmatch(LABEL_KEY, key) or len(key) > 317 or len(value) > 63
            or not re.fullmatch(LABEL_VALUE, value)):
        raise BadInput(f"--label {assignment!r}: expected a label key=value (values: at most 63 characters, "
                       "alphanumerics, '-', '_', '.')")
    return key, value


def build(doc: dict[str, Any], *, sets: list[str], namespace: str | None, default_namespace: str,
          labels: list[str], schedule: str | None, now: datetime.datetime) -> dict[str, Any]:
    """The object to create; raises BadInput with every problem named."""
    meta_in = doc.get("metadata")
    meta = {k: v for k, v in (meta_in if isinstance(meta_in, dict) else {}).items() if k in KEPT_METADATA}
    if namespace and meta.get("namespace") not in (None, namespace):
        raise BadInput(f"the manifest's namespace {meta['namespace']!r} does not match -n {namespace!r}")
    meta["namespace"] = namespace or meta.get("namespace") or default_namespace
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise BadInput("the manifest has no spec")
    spec = dict(spec)
    for assignment in sets:
        set_value(spec, assignment)
    new_labels = dict(meta.get("labels") or {})
    new_labels.update(_label(item) for item in labels)
    annotations = dict(meta.get("annotations") or {})
    if schedule is not None:
        if not schedule or len(schedule) > 63 or not re.fullmatch(LABEL_VALUE, schedule):
            raise BadInput(f"--schedule {schedule!r}: must be a label value (at most 63 characters)")
        new_labels[SCHEDULE_LABEL] = schedule
        # Every run of a schedule is a new object: a fixed name becomes a prefix.
        if "generateName" not in meta:
            meta["generateName"] = f"{meta.pop('name', None) or schedule}-"
        meta.pop("name", None)
    annotations[SUBMITTED_ANNOTATION] = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    meta["labels"], meta["annotations"] = new_labels, annotations
    body = {"apiVersion": doc.get("apiVersion"), "kind": doc.get("kind"), "metadata": meta, "spec": spec}
    problems = validate_manifest(body)
    if problems:
        raise BadInput("the experiment is invalid:\n" + "\n".join(f"  {p}" for p in problems))
    return body
