"""The worker Job and its config, from the experiment (pure, table-driven)."""

from __future__ import annotations

import posixpath
from typing import Any

import pytest

from chaos_operator.loadworker.job import (
    STATE_PORT,
    UID_LABEL,
    job_manifest,
    names,
    network_policy,
    why_ended,
    worker_config,
)
from chaos_operator.models.spec import ExperimentSpec
from tests.support.manifests import base_manifest

UID = "0f1e2d3c-0000-4000-8000-000000000001"
SERVICE = {"service": {"name": "orders", "port": 8443}, "path": "/orders"}


def spec(**load: Any) -> ExperimentSpec:
    doc = base_manifest()["spec"]
    doc["load"] = {**SERVICE, **load}
    return ExperimentSpec.model_validate(doc)


def _mounts(job: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    pod = job["spec"]["template"]["spec"]
    paths = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    return {v["name"]: (paths[v["name"]], v.get("secret") or v.get("configMap")) for v in pod["volumes"]}


@pytest.mark.parametrize(("load", "workers", "extra_volumes"), [
    ({}, 1, set()),
    ({"workers": 3}, 3, set()),
    ({"method": "POST", "bodyFrom": {"name": "bodies", "key": "order.json"}}, 1, {"body"}),
    ({"auth": {"bearerToken": {"name": "tok", "key": "t"}}}, 1, {"auth"}),
    ({"auth": {"basic": {"secretName": "creds"}}, "tls": {"caBundle": {"name": "ca", "key": "ca.pem"}},
      "workers": 8}, 8, {"auth", "ca"}),
])
def test_the_job(load: dict[str, Any], workers: int, extra_volumes: set[str]) -> None:
    job = job_manifest(spec(**load), "orders-kill", "shop", UID, "registry/chaos-operator:1", 240.0)
    js = job["spec"]
    assert (js["completionMode"], js["completions"], js["parallelism"], js["backoffLimitPerIndex"]) == (
        "Indexed", workers, workers, 0)
    assert js["activeDeadlineSeconds"] >= 240 + 300  # the schedule and the time the state stays served
    assert job["metadata"]["namespace"] == "shop"
    assert job["metadata"]["ownerReferences"] == [{"apiVersion": "chaosoperator.dev/v1alpha1",
                                                   "kind": "ChaosExperiment", "name": "orders-kill", "uid": UID,
                                                   "controller": True, "blockOwnerDeletion": True}]
    pod = js["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry/chaos-operator:1"
    assert container["args"] == ["loadworker", "--config", "/etc/chaos-load/config/config.json"]
    assert container["env"] == [{"name": "LOAD_WORKERS", "value": str(workers)},
                                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    mounts = _mounts(job)
    assert set(mounts) == {"config", "state"} | extra_volumes
    n = names("orders-kill", UID)
    assert mounts["config"][1]["name"] == n["config"] and mounts["state"][1]["secretName"] == n["token"]
    assert all(m["readOnly"] for m in container["volumeMounts"])


def test_every_file_the_config_names_is_mounted() -> None:
    s = spec(method="PUT", bodyFrom={"name": "b", "key": "k"}, auth={"basic": {"secretName": "c", "usernameKey": "u"}},
             tls={"caBundle": {"name": "ca", "key": "ca.pem"}, "serverName": "orders.shop.svc"})
    config = worker_config(s, "shop", 240.0)
    assert config.url == "https://orders.shop.svc:8443/orders"
    assert (config.method, config.server_name, config.duration_seconds) == ("PUT", "orders.shop.svc", 240.0)
    job = job_manifest(s, "orders-kill", "shop", UID, "img", 240.0)
    mounted = {f"{path}/{item['path']}" for path, source in _mounts(job).values() for item in source["items"]}
    assert config.basic_auth is not None
    named = {posixpath.normpath(posixpath.join("/etc/chaos-load/config", path or "")) for path in (
        config.body_file, config.ca_file, config.state_token_file, config.basic_auth.username_file,
        config.basic_auth.password_file, "config.json")}
    assert named == mounted
    basic = next(v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "auth")
    assert basic["secret"]["items"] == [{"key": "u", "path": "username"}, {"key": "password", "path": "password"}]


def test_a_plain_spec_gives_todays_request() -> None:
    config = worker_config(spec(), "shop", 60.0)
    assert (config.url, config.method, config.headers, config.body, config.success_codes) == (
        "http://orders.shop.svc:8443/orders", "GET", {}, None, None)
    assert (config.rate, config.concurrency, config.timeout_seconds) == (50.0, 32, 2.0)


def test_names_are_dns_labels_for_any_experiment_name() -> None:
    for n in names("x" * 63, UID).values():
        assert len(n) <= 63 and n[0].isalpha()


def _ended(name: str = "load", **terminated: Any) -> dict[str, Any]:
    return {"status": {"containerStatuses": [{"name": name, "state": {"terminated": terminated}}]}}


@pytest.mark.parametrize(("pod", "told"), [
    ({}, ""),
    ({"status": {"containerStatuses": [{"name": "load", "state": {"running": {}}}]}}, ""),
    (_ended(exitCode=137, reason="OOMKilled"), "exit code 137: OOMKilled"),
    (_ended(exitCode=1, reason="Error", message="Traceback\n  ...\nssl.SSLError: no certificate\n"),
     "exit code 1: Error: ssl.SSLError: no certificate"),
    (_ended(name="istio-proxy", exitCode=0, reason="Completed"), ""),  # only the worker's own container
])
def test_why_a_worker_ended_is_its_exit_and_last_words(pod: dict[str, Any], told: str) -> None:
    assert why_ended(pod) == told


def test_why_a_worker_ended_is_bounded() -> None:
    assert len(why_ended(_ended(exitCode=1, reason="Error", message="x" * 5000))) == 300


def test_the_network_policy_lets_only_the_operators_namespace_reach_the_state_port() -> None:
    job = job_manifest(spec(workers=3), "orders-kill", "shop", UID, "chaos-operator:1", 240.0)
    policy = network_policy("orders-kill", "shop", UID, "chaos-system")
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector == {UID_LABEL: UID} and selector.items() <= pod_labels.items()  # exactly this run's workers
    assert policy["spec"]["policyTypes"] == ["Ingress"]  # egress (the load) is left alone
    assert policy["spec"]["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "chaos-system"}}}],
        "ports": [{"protocol": "TCP", "port": STATE_PORT}]}]
    assert policy["metadata"]["ownerReferences"] == job["metadata"]["ownerReferences"]
    where = (policy["metadata"]["namespace"], policy["metadata"]["name"])
    assert where == ("shop", names("orders-kill", UID)["policy"])
