"""Composition root: builds the adapters and runs kopf with our handlers."""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import kopf

from chaos_operator import handlers
from chaos_operator.adapters.clock import SystemClock
from chaos_operator.adapters.kube import KubeClient, client_config
from chaos_operator.adapters.load import HttpLoadFactory
from chaos_operator.engine.deps import Deps
from chaos_operator.faults.base import DEFAULT_IMAGE
from chaos_operator.load.resolver import ClusterDnsResolver, ServiceResolver
from chaos_operator.metrics.prometheus import PrometheusSource


@dataclass
class OperatorConfig:
    server: str | None = None  # explicit API server URL (tests, sandbox); else kubeconfig or in-cluster
    token: str | None = None  # a bearer token for `server` (tests: the operator's identity in the emulator)
    kubeconfig: str | None = None
    namespaces: list[str] = field(default_factory=list)  # empty: cluster-wide
    operator_namespace: str = "chaos-system"
    allowed_namespaces: frozenset[str] | None = None
    protected_namespaces: frozenset[str] = frozenset()  # never targeted, on top of the built-in ones
    operator_pods: frozenset[str] = frozenset()
    resolver: ServiceResolver | None = None  # default: cluster DNS
    poll_s: float = 1.0
    liveness_endpoint: str | None = None
    # The operator's own image, which helper and stress pods run the agent from (the Deployment sets the env).
    image: str = field(default_factory=lambda: os.environ.get("OPERATOR_IMAGE") or DEFAULT_IMAGE)


def connection_info(cfg: Any) -> kopf.ConnectionInfo:
    """kopf credentials from the same explicit kubernetes-client configuration our adapter uses."""
    token = (cfg.api_key or {}).get("authorization") or (cfg.api_key or {}).get("BearerToken")
    scheme = None
    if token and " " in token:
        scheme, token = token.split(" ", 1)
    return kopf.ConnectionInfo(
        server=cfg.host, ca_path=cfg.ssl_ca_cert, insecure=not cfg.verify_ssl if cfg.ssl_ca_cert else None,
        scheme=scheme or ("Bearer" if token else None), token=token,
        certificate_path=cfg.cert_file, private_key_path=cfg.key_file,
    )


async def run_operator(config: OperatorConfig, stop_flag: asyncio.Event | threading.Event | None = None,
                       ready_flag: asyncio.Event | threading.Event | None = None) -> None:
    cfg = client_config(server=config.server, kubeconfig=config.kubeconfig, token=config.token)
    kube = KubeClient(cfg)
    clock = SystemClock()
    deps = Deps(
        kube=kube, clock=clock,
        open_load=HttpLoadFactory(kube, config.resolver or ClusterDnsResolver(), clock),
        operator_namespace=config.operator_namespace, allowed_namespaces=config.allowed_namespaces,
        protected_namespaces=config.protected_namespaces,
        operator_pods=config.operator_pods, poll_s=config.poll_s, open_metrics=PrometheusSource,
        image=config.image,
    )
    registry = kopf.OperatorRegistry()
    handlers.register(registry, deps, connection_info(cfg), namespaces=tuple(config.namespaces))
    try:
        await kopf.operator(
            registry=registry, settings=handlers.settings(), standalone=True,
            clusterwide=not config.namespaces, namespaces=config.namespaces,
            stop_flag=stop_flag, ready_flag=ready_flag, liveness_endpoint=config.liveness_endpoint,
        )
    finally:
        kube.close()
