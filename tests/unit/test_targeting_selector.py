from typing import Any

import pytest

from chaos_operator.models.spec import LabelSelector
from chaos_operator.targeting.selector import matches, to_query


def _sel(**kw: Any) -> LabelSelector:
    return LabelSelector.model_validate(kw)


def _expr(key: str, op: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": op, "values": list(values)}


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    # matchLabels: every pair must be present and equal
    ({"matchLabels": {"app": "web"}}, {"app": "web"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "web", "tier": "front"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
    ({"matchLabels": {"app": "web"}}, {}, False),
    ({"matchLabels": {"app": "web", "tier": "front"}}, {"app": "web"}, False),
    # In
    ({"matchExpressions": [_expr("env", "In", "prod", "stage")]}, {"env": "stage"}, True),
    ({"matchExpressions": [_expr("env", "In", "prod", "stage")]}, {"env": "dev"}, False),
    ({"matchExpressions": [_expr("env", "In", "prod")]}, {}, False),
    # NotIn: an absent key matches
    ({"matchExpressions": [_expr("env", "NotIn", "prod")]}, {"env": "dev"}, True),
    ({"matchExpressions": [_expr("env", "NotIn", "prod")]}, {"env": "prod"}, False),
    ({"matchExpressions": [_expr("env", "NotIn", "prod")]}, {}, True),
    # Exists: the value does not matter, even empty
    ({"matchExpressions": [_expr("canary", "Exists")]}, {"canary": ""}, True),
    ({"matchExpressions": [_expr("canary", "Exists")]}, {"other": "x"}, False),
    # DoesNotExist
    ({"matchExpressions": [_expr("canary", "DoesNotExist")]}, {"app": "web"}, True),
    ({"matchExpressions": [_expr("canary", "DoesNotExist")]}, {"canary": "true"}, False),
    # labels AND expressions, all of them
    ({"matchLabels": {"app": "web"}, "matchExpressions": [_expr("env", "In", "prod"), _expr("x", "DoesNotExist")]},
     {"app": "web", "env": "prod"}, True),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [_expr("env", "In", "prod"), _expr("x", "DoesNotExist")]},
     {"app": "web", "env": "prod", "x": "1"}, False),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [_expr("env", "In", "prod")]}, {"env": "prod"}, False),
])
def test_matches(selector: dict[str, Any], labels: dict[str, str], expected: bool) -> None:
    assert matches(_sel(**selector), labels) is expected


@pytest.mark.parametrize(("selector", "query"), [
    ({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2"),
    ({"matchExpressions": [_expr("c", "In", "y", "x")]}, "c in (x,y)"),
    ({"matchExpressions": [_expr("d", "NotIn", "z")]}, "d notin (z)"),
    ({"matchExpressions": [_expr("e", "Exists")]}, "e"),
    ({"matchExpressions": [_expr("f", "DoesNotExist")]}, "!f"),
    ({"matchExpressions": [_expr("c", "In", "b", "a", "b")]}, "c in (a,b)"),
    ({"matchLabels": {"a": "b"}, "matchExpressions": [
        _expr("c", "In", "y", "x"), _expr("d", "NotIn", "z"), _expr("e", "Exists"), _expr("f", "DoesNotExist")]},
     "a=b,c in (x,y),d notin (z),e,!f"),
    ({"matchLabels": {"app.kubernetes.io/name": "checkout"}}, "app.kubernetes.io/name=checkout"),
])
def test_to_query(selector: dict[str, Any], query: str) -> None:
    assert to_query(_sel(**selector)) == query
