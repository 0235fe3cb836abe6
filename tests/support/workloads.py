"""Manifests and waits shared by the sandbox and end-to-end tests."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from typing import Any

from chaos_sandbox.node.node import DEMO_IMAGE


def deployment(ns: str, app: str, replicas: int, args: Sequence[str] = (), grace: int | None = None,
               probe_path: str = "/ready", limits: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """A Deployment of the demo service and a Service selecting it (port 8080); `limits` as a container's."""
    spec: dict[str, Any] = {"containers": [{
        "name": "app", "image": f"{DEMO_IMAGE}:test", "args": ["--service", app, *args],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": probe_path, "port": "http"}}}]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    if limits is not None:
        spec["containers"][0]["resources"] = {"limits": dict(limits)}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app, "namespace": ns},
         "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                  "template": {"metadata": {"labels": {"app": app}}, "spec": spec}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": ns},
         "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}},
    ]


def served_by(url: str, count: int) -> list[str]:
    """Send `count` requests, each on a new connection (urllib does not keep connections), to a proxy on
    127.0.0.1; returns the X-Pod header of each answer."""
    assert url.startswith("http://127.0.0.1:"), url  # only ever loopback from here
    pods = []
    for _ in range(count):
        with urllib.request.urlopen(url + "/", timeout=5) as resp:
            pods.append(resp.headers["X-Pod"])
    return pods


def endpoint_names(endpoints: dict[str, Any] | None) -> tuple[set[str], set[str]]:
    """(ready, not ready) pod names of an Endpoints object."""
    ready: set[str] = set()
    not_ready: set[str] = set()
    for subset in (endpoints or {}).get("subsets") or []:
        ready |= {a["targetRef"]["name"] for a in subset.get("addresses") or []}
        not_ready |= {a["targetRef"]["name"] for a in subset.get("notReadyAddresses") or []}
    return ready, not_ready


def pretty(obj: Any) -> str:
    return json.dumps(obj, indent=1)[:3000]


APP_ARGS = ["--latency-ms", "10", "--jitter-ms", "5"]
