"""The chart's load.runner: workers by default (the flag, the mounted token key and exactly the writes the workers
need, never a read of a Secret); inprocess, the one named alternative, renders nothing of the workers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.chart import container_args, find, one, render
from tests.support.rbac import forbidden, grants_for


def _rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(one(objects, "ClusterRole")["rules"])


def test_inprocess_runs_the_load_in_the_operator_and_grants_nothing_for_workers() -> None:
    objects = render({"load": {"runner": "inprocess"}})
    assert "--load-runner=inprocess" in container_args(objects)
    assert not any(a.startswith("--load-token-key-file") for a in container_args(objects))
    assert find(objects, "Secret") == []
    assert not [r for r in _rules(objects) if {"jobs", "secrets", "networkpolicies"} & set(r["resources"])]


@pytest.mark.parametrize("values", [None, {"load": {"runner": "workers"}}], ids=["default", "explicit"])
def test_workers_get_the_flag_the_key_and_only_create_delete(values: dict[str, Any] | None) -> None:
    objects = render(values)
    args = container_args(objects)
    assert "--load-runner=workers" in args and "--load-token-key-file=/etc/chaos-operator/load-token/key" in args
    secret = one(objects, "Secret")
    assert secret["metadata"]["name"].endswith("-load-token") and secret["data"]["key"]
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert {"name": "load-token", "secret": {"secretName": secret["metadata"]["name"],
                                             "items": [{"key": "key", "path": "key"}]}} in pod["volumes"]
    workers = [r for r in _rules(objects) if {"jobs", "secrets", "networkpolicies"} & set(r["resources"])]
    assert workers == [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete"]},
                       {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"],
                        "verbs": ["create", "delete"]},
                       {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["create", "delete"]}]
    account = one(objects, "ServiceAccount")["metadata"]
    assert forbidden(grants_for(objects, account["name"], account["namespace"])) == []
