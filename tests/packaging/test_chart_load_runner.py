"""The chart's load.runner: inprocess by default (nothing of the workers rendered), workers renders the flag,
the mounted token key and exactly the writes the workers need (never a read of a Secret)."""

from __future__ import annotations

from typing import Any

from tests.support.chart import container_args, find, one, render
from tests.support.rbac import forbidden, grants_for


def _rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(one(objects, "ClusterRole")["rules"])


def test_the_default_runs_the_load_in_process_and_grants_nothing_for_workers() -> None:
    objects = render()
    assert "--load-runner=inprocess" in container_args(objects)
    assert not any(a.startswith("--load-token-key-file") for a in container_args(objects))
    assert find(objects, "Secret") == []
    assert not [r for r in _rules(objects) if {"jobs", "secrets"} & set(r["resources"])]


def test_workers_get_the_flag_the_key_and_only_create_delete() -> None:
    objects = render({"load": {"runner": "workers"}})
    args = container_args(objects)
    assert "--load-runner=workers" in args and "--load-token-key-file=/etc/chaos-operator/load-token/key" in args
    secret = one(objects, "Secret")
    assert secret["metadata"]["name"].endswith("-load-token") and secret["data"]["key"]
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert {"name": "load-token", "secret": {"secretName": secret["metadata"]["name"],
                                             "items": [{"key": "key", "path": "key"}]}} in pod["volumes"]
    workers = [r for r in _rules(objects) if {"jobs", "secrets"} & set(r["resources"])]
    assert workers == [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete"]},
                       {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["create", "delete"]}]
    account = one(objects, "ServiceAccount")["metadata"]
    assert forbidden(grants_for(objects, account["name"], account["namespace"])) == []
