"""What `submit` sends: overrides typed by the CRD schema, names and labels of scheduled runs, every problem named
before anything is created."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from chaos_operator.cli.submit.new_experiment import SCHEDULE_LABEL, SUBMITTED_ANNOTATION, BadInput, build, set_value
from tests.support.manifests import base_manifest

NOW = datetime.datetime(2025, 3, 4, 10, 0, 0, 123456, tzinfo=datetime.UTC)


def _build(doc: dict[str, Any] | None = None, sets: list[str] | None = None, namespace: str | None = None,
           labels: list[str] | None = None, schedule: str | None = None) -> dict[str, Any]:
    return build(copy.deepcopy(doc or base_manifest()), sets=sets or [], namespace=namespace,
                 default_namespace="team", labels=labels or [], schedule=schedule, now=NOW)


def test_overrides_are_typed_by_the_schema() -> None:
    spec: dict[str, Any] = {}
    for item in ("phases.chaos=3m", "load.rate=20", "slos.maxErrorRate=0.05", "dryRun=true",
                 "target.selector.matchLabels.app\\.kubernetes\\.io/name=123", "spec.load.path=/health"):
        set_value(spec, item)
    assert spec == {"phases": {"chaos": "3m"}, "load": {"rate": 20, "path": "/health"},
                    "slos": {"maxErrorRate": 0.05}, "dryRun": True,
                    "target": {"selector": {"matchLabels": {"app.kubernetes.io/name": "123"}}}}
    set_value(spec, "slos.maxErrorRate=null")
    assert spec["slos"] == {}


@pytest.mark.parametrize(("item", "message"), [
    ("phases.warmup=1s", "spec.phases.warmup is not a field"),
    ("load.rate=many", "is not an integer"),
    ("load.rate=true", "is not an integer"),
    ("dryRun=maybe", "is not a boolean"),
    ("phases.chaos.x=1", "spec.phases.chaos is a string, not an object"),
    ("=1", "expected key=value"),
])
def test_bad_overrides_are_named(item: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        set_value({}, item)


def test_the_whole_experiment_is_validated_like_any_manifest() -> None:
    with pytest.raises(BadInput) as caught:
        _build(sets=["phases.chaos=2h", "load.rate=99999"])
    assert "spec.phases.chaos" in str(caught.value) and "spec.load.rate" in str(caught.value)


def test_namespace_comes_from_the_option_the_manifest_or_the_context() -> None:
    doc = base_manifest()
    doc["metadata"].pop("namespace", None)
    assert _build(doc)["metadata"]["namespace"] == "team"
    assert _build(doc, namespace="shop")["metadata"]["namespace"] == "shop"
    doc["metadata"]["namespace"] = "shop"
    assert _build(doc)["metadata"]["namespace"] == "shop"
    with pytest.raises(BadInput, match="does not match -n"):
        _build(doc, namespace="other")


def test_a_scheduled_run_is_labelled_and_named_from_a_prefix() -> None:
    doc = base_manifest()
    doc["metadata"]["labels"] = {"team": "payments"}
    doc["metadata"]["resourceVersion"] = "42"  # a template copied from `kubectl get -o yaml`
    doc["status"] = {"phase": "Completed"}
    body = _build(doc, schedule="weekly", labels=["tier=gold"])
    meta = body["metadata"]
    assert "name" not in meta and meta["generateName"] == f"{doc['metadata']['name']}-"
    assert meta["labels"] == {"team": "payments", "tier": "gold", SCHEDULE_LABEL: "weekly"}
    assert meta["annotations"][SUBMITTED_ANNOTATION] == "2025-03-04T10:00:00.123456Z"
    assert "resourceVersion" not in meta and "status" not in body


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"schedule": "Not Valid!"}, "--schedule"),
    ({"schedule": "x" * 64}, "--schedule"),
    ({"labels": ["no-value"]}, "--label"),
    ({"labels": ["k=" + "v" * 64]}, "--label"),
])
def test_bad_labels_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        _build(**kwargs)
