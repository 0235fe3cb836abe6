"""The worker Job and its config, built from the experiment (pure): what the operator creates next.

The Job runs in the experiment's namespace (docs/architecture.md, "Load workers"): the pods mount the user's
ConfigMap and Secret keys there, and the ownerReference that cascades deletion cannot cross namespaces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import Mapping
from typing import Any

from chaos_operator.loadworker.config import WorkerConfig
from chaos_operator.models.spec import ExperimentSpec

EXPERIMENT_API = "chaosoperator.dev/v1alpha1"
COMPONENT = "load-worker"
UID_LABEL = "chaosoperator.dev/experiment-uid"
STATE_PORT = 8080
WORKER_UID = 10001  # the image's USER (Dockerfile)
ROOT = "/etc/chaos-load"
CONFIG_KEY = "config.json"
STATE_TOKEN_KEY = "token"
LINGER_SECONDS = 300.0  # the finished state stays served this long for the operator to pull
START_MARGIN_SECONDS = 600.0  # pulling the image, scheduling, waiting for every worker to be Ready
RESOURCES = {"requests": {"cpu": "250m", "memory": "96Mi"}, "limits": {"memory": "256Mi"}}


def names(experiment: str, uid: str) -> dict[str, str]:
    """Deterministic names (a restarted operator finds what it made): the Job, its config ConfigMap, its token
    Secret, its NetworkPolicy. A DNS label: the experiment's name cut to leave room for the suffix."""
    base = f"{experiment[:40].rstrip('-')}-load-{uid[:8]}"
    return {"job": base, "config": f"{base}-config", "token": f"{base}-token", "policy": base}


def worker_config(spec: ExperimentSpec, namespace: str, duration_s: float) -> WorkerConfig:
    """The config the workers read, with the user's ConfigMap/Secret keys at their mount paths, relative to the
    config's own (ROOT/config): every volume is mounted at ROOT/<its name>."""
    load = spec.load
    scheme = "https" if load.tls is not None else "http"
    fields: dict[str, Any] = {
        "url": f"{scheme}://{load.service.name}.{namespace}.svc:{load.service.port}{load.path}",
        "method": load.method, "headers": dict(load.headers or {}), "body": load.body,
        "successCodes": load.success_codes, "rate": float(load.rate), "concurrency": load.concurrency,
        "timeoutSeconds": float(load.timeout), "durationSeconds": duration_s,
        "stateTokenFile": f"../state/{STATE_TOKEN_KEY}", "port": STATE_PORT, "lingerSeconds": LINGER_SECONDS,
    }
    if load.body_from is not None:
        fields["bodyFile"] = "../body/body"
    if load.auth is not None and load.auth.bearer_token is not None:
        fields["bearerTokenFile"] = "../auth/token"
    elif load.auth is not None:
        fields["basicAuth"] = {"usernameFile": "../auth/username", "passwordFile": "../auth/password"}
    if load.tls is not None:
        fields["serverName"] = load.tls.server_name
        if load.tls.ca_bundle is not None:
            fields["caFile"] = "../ca/ca.crt"
    return WorkerConfig.model_validate({k: v for k, v in fields.items() if v is not None})


def _volumes(spec: ExperimentSpec, config_map: str, token_secret: str) -> list[dict[str, Any]]:
    load = spec.load
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": config_map, "items": [{"key": CONFIG_KEY, "path": CONFIG_KEY}]}},
        {"name": "state", "secret": {"secretName": token_secret,
                                     "items": [{"key": STATE_TOKEN_KEY, "path": STATE_TOKEN_KEY}]}},
    ]
    if load.body_from is not None:
        volumes.append({"name": "body", "configMap": {"name": load.body_from.name,
                                                      "items": [{"key": load.body_from.key, "path": "body"}]}})
    if load.auth is not None and load.auth.bearer_token is not None:
        ref = load.auth.bearer_token
        volumes.append({"name": "auth", "secret": {"secretName": ref.name,
                                                   "items": [{"key": ref.key, "path": "token"}]}})
    elif load.auth is not None and load.auth.basic is not None:
        basic = load.auth.basic
        volumes.append({"name": "auth", "secret": {"secretName": basic.secret_name, "items": [
            {"key": basic.username_key, "path": "username"}, {"key": basic.password_key, "path": "password"}]}})
    if load.tls is not None and load.tls.ca_bundle is not None:
        ca = load.tls.ca_bundle
        volumes.append({"name": "ca", "configMap": {"name": ca.name, "items": [{"key": ca.key, "path": "ca.crt"}]}})
    return volumes


def job_manifest(spec: ExperimentSpec, experiment: str, namespace: str, uid: str, image: str,
                 run_seconds: float) -> dict[str, Any]:
    """The indexed Job of ``spec.load.workers`` pods; ``run_seconds`` is the whole schedule (every phase)."""
    n = names(experiment, uid)
    labels = {"app.kubernetes.io/name": "chaos-operator", "app.kubernetes.io/component": COMPONENT,
              UID_LABEL: uid}
    volumes = _volumes(spec, n["config"], n["token"])
    container = {
        "name": "load", "image": image, "imagePullPolicy": "IfNotPresent",
        "args": ["loadworker", "--config", f"{ROOT}/config/{CONFIG_KEY}"],
        # JOB_COMPLETION_INDEX: set by Kubernetes. POD_IP: the worker listens on its pod's address only.
        "env": [{"name": "LOAD_WORKERS", "value": str(spec.load.workers)},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "ports": [{"name": "state", "containerPort": STATE_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "state"}, "periodSeconds": 1},
        "resources": RESOURCES,
        # Why a worker ended reaches the experiment's status (why_ended) without anyone reading its logs.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": v["name"], "mountPath": f"{ROOT}/{v['name']}", "readOnly": True} for v in volumes],
    }
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": n["job"], "namespace": namespace, "labels": labels,
                     "ownerReferences": owner_references(experiment, uid)},
        "spec": {
            "completionMode": "Indexed", "completions": spec.load.workers, "parallelism": spec.load.workers,
            # No pod is run twice for an index (a replacement would double its share), and a lost worker fails only
            # its own index: the others go on measuring, and the loss shows as coverage. With a Job-wide
            # `backoffLimit: 0` the first lost worker failed the Job, whose controller then deleted every other
            # worker with its unpulled seconds (tests/e2e/test_load_workers.py found it). Kubernetes 1.29+; an
            # older API server drops the field and a replacement pod waits for a start that never comes.
            "backoffLimitPerIndex": 0,
            "activeDeadlineSeconds": math.ceil(START_MARGIN_SECONDS + run_seconds + LINGER_SECONDS),
            "template": {"metadata": {"labels": labels}, "spec": {
                "restartPolicy": "Never", "automountServiceAccountToken": False, "enableServiceLinks": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": WORKER_UID, "runAsGroup": WORKER_UID,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container], "volumes": volumes,
            }},
        },
    }


def why_ended(pod: Mapping[str, Any], limit: int = 300) -> str:
    """The worker container's end as its status tells it: exit code, reason and the message's last line (with
    FallbackToLogsOnError, the log's tail); "" when the status says nothing."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        ended = (status.get("state") or {}).get("terminated") if status.get("name") == "load" else None
        if ended:
            lines = str(ended.get("message") or "").strip().splitlines()
            told = [f"exit code {ended.get('exitCode')}", str(ended.get("reason") or ""), lines[-1] if lines else ""]
            return ": ".join(part for part in told if part)[:limit]
    return ""


def owner_references(experiment: str, uid: str) -> list[dict[str, Any]]:
    """The experiment as controller: deleting it garbage-collects the Job, its config, its token and its
    NetworkPolicy."""
    return [{"apiVersion": EXPERIMENT_API, "kind": "ChaosExperiment", "name": experiment, "uid": uid,
             "controller": True, "blockOwnerDeletion": True}]


def state_token(key: bytes, uid: str) -> str:
    """The per-experiment bearer token of the workers' /state and /start: HMAC-SHA256 of the experiment's UID
    under the operator's key. Derived, so a restarted operator recomputes it and never reads a Secret back."""
    return hmac.new(key, f"chaos-operator/load-state/{uid}".encode(), hashlib.sha256).hexdigest()


def config_map(spec: ExperimentSpec, experiment: str, namespace: str, uid: str, duration_s: float) -> dict[str, Any]:
    config = worker_config(spec, namespace, duration_s)
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": names(experiment, uid)["config"], "namespace": namespace,
                         "labels": {"app.kubernetes.io/component": COMPONENT, UID_LABEL: uid},
                         "ownerReferences": owner_references(experiment, uid)},
            "data": {CONFIG_KEY: config.model_dump_json(by_alias=True, exclude_none=True)}}


def network_policy(experiment: str, namespace: str, uid: str, operator_namespace: str) -> dict[str, Any]:
    """Ingress to the workers only from the operator's namespace, only to the state port: no tenant pod can start
    them or read their figures, and a namespace with a default-deny ingress policy still lets the operator in.
    Egress is left alone (the load goes to the experiment's Service). Enforced by the cluster's network plugin."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": names(experiment, uid)["policy"], "namespace": namespace,
                         "labels": {"app.kubernetes.io/component": COMPONENT, UID_LABEL: uid},
                         "ownerReferences": owner_references(experiment, uid)},
            "spec": {"podSelector": {"matchLabels": {UID_LABEL: uid}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                         "kubernetes.io/metadata.name": operator_namespace}}}],
                                  "ports": [{"protocol": "TCP", "port": STATE_PORT}]}]}}


def token_secret(experiment: str, namespace: str, uid: str, token: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": names(experiment, uid)["token"], "namespace": namespace,
                         "labels": {"app.kubernetes.io/component": COMPONENT, UID_LABEL: uid},
                         "ownerReferences": owner_references(experiment, uid)},
            "data": {STATE_TOKEN_KEY: base64.b64encode(token.encode()).decode("ascii")}}
