"""The chart linted and rendered by the real Helm engine: object counts per mode, the Deployment's image,
environment, probes and security, and the operator's arguments parsed by the operator's own CLI parser."""

from __future__ import annotations

import argparse
import json
import tomllib
from typing import Any

import helm_python as helm
import pytest
import yaml

from chaos_operator.cli import main as cli
from tests.support.chart import (
    CHART,
    NAMESPACE,
    NAMESPACED,
    ROOT,
    container_args,
    find,
    one,
    render,
    render_files,
    schedule_values,
)

DIGEST = "sha256:" + "ab" * 32
# Flags the chart renders that other branches add to `chaos-operator run` (the lead merges them):
# the ops branch (H5) adds leader election, the metrics port, log level/format and namespace opt-in.
# Once every one is in cli.py this set is empty and the test below parses the full argv.
def test_chart_lints_clean_with_the_real_helm_engine() -> None:
    for values in ({}, NAMESPACED, schedule_values()):
        report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE, kube_version="v1.30.0")
        assert report["errors"] == [], report
        # Severity 1 is informational (e.g. "icon is recommended"); nothing at warning or above.
        assert [m for m in report["messages"] if m["severity"] >= 2] == [], report


def test_app_version_is_the_package_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == project["version"]


@pytest.mark.parametrize(("values", "kinds"), [
    ({}, {"CustomResourceDefinition": 1, "ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1,
          "Role": 1, "RoleBinding": 1, "Deployment": 1, "Service": 1}),
    (NAMESPACED, {"CustomResourceDefinition": 1, "ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1,
                  "Role": 3, "RoleBinding": 3, "Deployment": 1, "Service": 1}),
    (schedule_values(), {"CustomResourceDefinition": 1, "ServiceAccount": 2, "ClusterRole": 1,
                         "ClusterRoleBinding": 1, "Role": 2, "RoleBinding": 2, "Deployment": 1, "Service": 1,
                         "ConfigMap": 1, "CronJob": 1}),
    ({"metrics": {"serviceMonitor": {"enabled": True}}, "grafanaDashboard": {"enabled": True}},
     {"CustomResourceDefinition": 1, "ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1,
      "Role": 1, "RoleBinding": 1, "Deployment": 1, "Service": 1, "ServiceMonitor": 1, "ConfigMap": 1}),
    ({"creatorAuthorization": {"enabled": False}},
     {"CustomResourceDefinition": 1, "ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1,
      "Role": 1, "RoleBinding": 1, "Deployment": 1, "Service": 1}),
], ids=["cluster-wide", "namespaced", "schedules", "monitoring", "no-creator-authorization"])
def test_rendered_objects_per_mode(values: dict[str, Any], kinds: dict[str, int]) -> None:
    objects = render(values)
    kinds = {**kinds, "Secret": 1}  # load.runner: workers by default, and the key their tokens derive from
    if values.get("creatorAuthorization", {}).get("enabled", True):  # on by default: the policy and its binding
        kinds = {**kinds, "ValidatingAdmissionPolicy": 1, "ValidatingAdmissionPolicyBinding": 1}
    counted: dict[str, int] = {}
    for obj in objects:
        counted[obj["kind"]] = counted.get(obj["kind"], 0) + 1
    assert counted == kinds


def test_namespaced_mode_grants_workloads_only_in_the_watched_namespaces() -> None:
    objects = render(NAMESPACED)
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in find(objects, "Role")}
    assert roles == {("shop", "chaos-operator"), ("payments", "chaos-operator"),
                     (NAMESPACE, "chaos-operator-self")}
    cluster_rules = one(objects, "ClusterRole")["rules"]
    assert {(r, v) for rule in cluster_rules for r in rule["resources"] for v in rule["verbs"]} == {
        ("customresourcedefinitions", "list"), ("customresourcedefinitions", "watch"),
        ("namespaces", "list"), ("namespaces", "watch")}
    args = container_args(objects)
    assert [a for a in args if a.startswith("--namespace=")] == ["--namespace=shop", "--namespace=payments"]


def test_deployment_runs_and_announces_one_image_reference() -> None:
    for image, expected in (({}, "chaos-operator:0.1.0"),
                            ({"image": {"repository": "registry.example/chaos", "tag": "1.2.3", "digest": DIGEST}},
                             f"registry.example/chaos:1.2.3@{DIGEST}")):
        objects = render(image)
        container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert container["image"] == expected
        assert env["OPERATOR_IMAGE"]["value"] == container["image"]  # helper pods run this very build
        assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
        assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
        for cronjob in find(render({**image, **schedule_values()}), "CronJob"):
            job = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
            assert job["image"] == expected


def test_probes_and_metrics_share_the_one_port() -> None:
    objects = render({"metrics": {"port": 9400, "service": {"port": 9090}}})
    container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9400, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert "--metrics-port=9400" in container_args(objects)
    service = one(objects, "Service")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "operator"


def test_security_defaults() -> None:
    pod = one(render(), "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    ctx = pod["containers"][0]["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True and ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]} and ctx["runAsUser"] == 10001
    assert "automountServiceAccountToken" not in pod  # the operator needs its token


def test_single_replica_without_leader_election_never_overlaps() -> None:
    spec = one(render({"leaderElection": {"enabled": False}}), "Deployment")["spec"]
    assert spec["strategy"] == {"type": "Recreate"}
    objects = render()
    assert one(objects, "Deployment")["spec"]["strategy"]["type"] == "RollingUpdate"
    lease_rules = [r for r in one(objects, "Role", "chaos-operator-self")["rules"] if "leases" in r["resources"]]
    assert lease_rules == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                            "verbs": ["get", "create", "update"]}]


def test_extra_labels_and_annotations_reach_every_object() -> None:
    values = {"commonLabels": {"team": "sre"}, "commonAnnotations": {"owner": "sre@example.com"},
              "podLabels": {"tier": "ops"}, "podAnnotations": {"scrape": "yes"}, **schedule_values()}
    for obj in render(values):
        if obj["kind"] == "CustomResourceDefinition":
            continue  # the canonical CRD, byte for byte (test_chart_crd.py)
        assert obj["metadata"]["labels"]["team"] == "sre", obj["kind"]
        assert obj["metadata"]["annotations"]["owner"] == "sre@example.com", obj["kind"]
    template = one(render(values), "Deployment")["spec"]["template"]["metadata"]
    assert template["labels"]["tier"] == "ops" and template["annotations"] == {"owner": "sre@example.com",
                                                                              "scrape": "yes"}


def run_parser() -> argparse.ArgumentParser:
    """The `run` subcommand's parser, from chaos_operator.cli.main itself."""
    parser = cli._parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    run: argparse.ArgumentParser = sub.choices["run"]
    return run


def test_operator_arguments_parse_with_the_operators_own_parser() -> None:
    values = {"watchNamespaces": ["shop"], "allowedNamespaces": ["shop", "payments"],
              "protectedNamespaces": ["billing"], "requireNamespaceOptIn": True, "logLevel": "debug",
              "logFormat": "json", "leaderElection": {"enabled": True}, "metrics": {"port": 9400},
              "prometheus": {"allowedUrls": ["http://prometheus-operated.monitoring:9090"]},
              "limits": {"maxRunningExperiments": 5, "maxHelpersPerNode": 0}}
    args = container_args(render(values))
    assert args[0] == "run"
    known = {flag for action in run_parser()._actions for flag in action.option_strings}
    unknown = {a.split("=")[0] for a in args[1:] if a.split("=")[0] not in known}
    assert not unknown, f"the chart renders flags the operator does not have: {unknown}"
    parsed = run_parser().parse_args(args[1:])
    assert parsed.operator_namespace == NAMESPACE
    assert parsed.namespace == ["shop"] and parsed.allow_namespace == ["shop", "payments"]
    assert parsed.protect_namespace == ["billing"]
    assert parsed.allow_prometheus_url == ["http://prometheus-operated.monitoring:9090"]
    assert (parsed.max_running_experiments, parsed.max_helpers_per_node) == (5, 0)
    expected = {"--leader-election", "--metrics-port=9400", "--log-level=debug", "--log-format=json",
                "--require-opt-in", "--protect-namespace=billing"}
    assert expected <= set(args)


def test_the_chart_caps_experiments_and_helpers_by_default() -> None:
    args = container_args(render({}))
    assert {"--max-running-experiments=20", "--max-helpers-per-node=32"} <= set(args)


def test_no_prometheus_url_is_allowed_unless_given_at_install() -> None:
    assert not any(a.startswith("--allow-prometheus-url") for a in container_args(render({})))


def test_notes_tell_how_to_run_an_example_and_read_the_verdict() -> None:
    notes = render_files()["chaos-operator/templates/NOTES.txt"]
    assert "kubectl apply -n shop -f examples/pod-kill.yaml" in notes
    assert "chaos-operator report" in notes and "VERDICT" in notes
    assert "rollout status deployment/chaos-operator" in notes


def test_service_monitor_scrapes_the_metrics_service() -> None:
    objects = render({"metrics": {"serviceMonitor": {"enabled": True, "interval": "15s",
                                                     "labels": {"release": "prometheus"}}}})
    monitor, service = one(objects, "ServiceMonitor"), one(objects, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s",
                                             "scrapeTimeout": "10s"}]
    with pytest.raises(helm.HelmError, match="needs metrics.service.enabled"):
        render({"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}})


def test_dashboard_configmap_holds_the_dashboard_file() -> None:
    text = (CHART / "dashboards" / "chaos-operator.json").read_text()
    configmap = one(render({"grafanaDashboard": {"enabled": True, "namespace": "monitoring"}}), "ConfigMap")
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["chaos-operator.json"]) == json.loads(text)
