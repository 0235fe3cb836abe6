"""The worker Job and its config, built from the experiment (pure): what the operator creates next.

The Job runs in the experiment's namespace (docs/architecture.md, "Load workers"): the pods mount the user's
ConfigMap and Secret keys there, and the ownerReference that cascades deletion cannot cross namespaces.
"""

from __future__ import annotations

import math
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
    Secret. A DNS label: the experiment's name cut to leave room for the suffix."""
    base = f"{experiment[:40].rstrip('-')}-load-{uid[:8]}"
    return {"job": base, "config": f"{base}-config", "token": f"{base}-token"}


def worker_config(spec: ExperimentSpec, namespace: str, duration_s: float) -> WorkerConfig:
    """The config the workers read, with the user's ConfigMap/Secret keys at their mount paths."""
    load = spec.load
    scheme = "https" if load.tls is not None else "http"
    fields: dict[str, Any] = {
        "url": f"{scheme}://{load.service.name}.{namespace}.svc:{load.service.port}{load.path}",
        "method": load.method, "headers": dict(load.headers or {}), "body": load.body,
        "successCodes": load.success_codes, "rate": float(load.rate), "concurrency": load.concurrency,
        "timeoutSeconds": float(load.timeout), "durationSeconds": duration_s,
        "stateTokenFile": f"{ROOT}/state/{STATE_TOKEN_KEY}", "port": STATE_PORT, "lingerSeconds": LINGER_SECONDS,
    }
    if load.body_from is not None:
        fields["bodyFile"] = f"{ROOT}/body/body"
    if load.auth is not None and load.auth.bearer_token is not None:
        fields["bearerTokenFile"] = f"{ROOT}/auth/token"
    elif load.auth is not None:
        fields["basicAuth"] = {"usernameFile": f"{ROOT}/auth/username", "passwordFile": f"{ROOT}/auth/password"}
    if load.tls is not None:
        fields["serverName"] = load.tls.server_name
        if load.tls.ca_bundle is not None:
            fields["caFile"] = f"{ROOT}/ca/ca.crt"
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
        "env": [{"name": "LOAD_WORKERS", "value": str(spec.load.workers)}],  # JOB_COMPLETION_INDEX: set by Kubernetes
        "ports": [{"name": "state", "containerPort": STATE_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "state"}, "periodSeconds": 1},
        "resources": RESOURCES,
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": v["name"], "mountPath": f"{ROOT}/{v['name']}", "readOnly": True} for v in volumes],
    }
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": n["job"], "namespace": namespace, "labels": labels, "ownerReferences": [{
            "apiVersion": EXPERIMENT_API, "kind": "ChaosExperiment", "name": experiment, "uid": uid,
            "controller": True, "blockOwnerDeletion": True}]},
        "spec": {
            "completionMode": "Indexed", "completions": spec.load.workers, "parallelism": spec.load.workers,
            "backoffLimit": 0,  # a lost worker shows as coverage; a second one would double its share
            "activeDeadlineSeconds": math.ceil(START_MARGIN_SECONDS + run_seconds + LINGER_SECONDS),
            "template": {"metadata": {"labels": labels}, "spec": {
                "restartPolicy": "Never", "automountServiceAccountToken": False, "enableServiceLinks": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": WORKER_UID, "runAsGroup": WORKER_UID,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container], "volumes": volumes,
            }},
        },
    }
