"""Composition root: builds the adapters and runs kopf with our handlers (after winning the Lease, if asked)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import kopf

from chaos_operator.adapters import telemetry
from chaos_operator.adapters.clock import SystemClock
from chaos_operator.adapters.coordination import CoordinationClient
from chaos_operator.adapters.health import HealthServer
from chaos_operator.adapters.kube import client_config
from chaos_operator.adapters.kubeload import KubeLoadClient
from chaos_operator.adapters.load import HttpLoadFactory
from chaos_operator.adapters.workerfactory import WorkerLoadFactory
from chaos_operator.engine.deps import Deps, LoadFactory
from chaos_operator.engine.gating import Gates
from chaos_operator.engine.slots import Slots
from chaos_operator.faults.base import DEFAULT_IMAGE
from chaos_operator.faults.helpers.pod_spec import HELPER_SELECTOR
from chaos_operator.load.resolver import ClusterDnsResolver, ServiceResolver
from chaos_operator.runtime import handlers
from chaos_operator.runtime.killswitch import PauseWatcher
from chaos_operator.runtime.leader.elector import Elector
from chaos_operator.runtime.leader.rules import Timing
from chaos_operator.sli.prometheus import PrometheusSource

log = logging.getLogger(__name__)
Flag = asyncio.Event | threading.Event
LOAD_RUNNERS = ("inprocess", "workers")


class LeadershipLost(Exception):
    """The Lease could not be renewed: this instance stopped handling and must be restarted as a standby."""


def default_identity() -> str:
    # Unique per process: a restarted pod keeps its name but must not believe it still holds the Lease.
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


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
    recover_retry_s: float = 120.0  # --recovery-retry
    max_running: int | None = None  # --max-running-experiments
    max_helpers_per_node: int | None = None  # --max-helpers-per-node
    liveness_endpoint: str | None = None
    # The operator's own image, which helper and stress pods run the agent from (the Deployment sets the env).
    image: str = field(default_factory=lambda: os.environ.get("OPERATOR_IMAGE") or DEFAULT_IMAGE)
    leader_election: bool = False
    lease: Timing = field(default_factory=Timing)
    identity: str = field(default_factory=default_identity)
    metrics_port: int | None = None  # /metrics, /healthz, /readyz (0: any free port); None: no listener
    # Bandit B104 here: the metrics Service and kubelet probes reach the pod's IP; the listener is GET-only.
    metrics_host: str = "0.0.0.0"  # nosec B104
    require_opt_in: bool = False
    disabled_faults: frozenset[str] = frozenset()  # kinds refused with FaultDisabled
    prometheus_urls: tuple[str, ...] = ()  # the only spec.prometheus.url values queried (none: refused)
    pause_poll_s: float = 0.5
    load_runner: str = "workers"  # --load-runner: workers | inprocess (docs/architecture.md, "Load workers")
    # The key the workers' tokens are derived from (--load-token-key-file); None: random, for this process only.
    load_token_key: bytes | None = None


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


async def _flag_set(flag: Flag | None) -> None:
    if flag is None:
        await asyncio.Future()  # never
    elif isinstance(flag, asyncio.Event):
        await flag.wait()
    else:
        while not flag.is_set():
            await asyncio.sleep(0.1)


async def _first(main: Coroutine[Any, Any, None], stop: Flag | None) -> bool:
    """Run `main` until it ends or `stop` is set; True when `main` ended first."""
    task, waiter = asyncio.create_task(main), asyncio.create_task(_flag_set(stop))
    try:
        done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, waiter):
            t.cancel()
            with contextlib.suppress(BaseException):
                await t
    return task in done


async def run_operator(config: OperatorConfig, stop_flag: Flag | None = None, ready_flag: Flag | None = None) -> None:
    cfg = client_config(server=config.server, kubeconfig=config.kubeconfig, token=config.token)
    kube = KubeLoadClient(cfg, on_error=telemetry.api_error)
    own = CoordinationClient(cfg)  # the Lease and the kill switch, in the operator's namespace
    pause = PauseWatcher(own, config.operator_namespace, config.pause_poll_s,
                         on_change=lambda paused: telemetry.PAUSED.set(int(paused)))
    elector = Elector(own, config.operator_namespace, config.identity, config.lease,
                      on_change=telemetry.set_leader) if config.leader_election else None
    kopf_ready = asyncio.Event()

    def readiness() -> tuple[bool, str]:
        if kopf_ready.is_set():
            return True, "leading" if elector is not None else "running"
        if elector is not None and elector.last_contact is not None:
            return True, "standing by"  # a standby is ready: a rolling update must not wait for the leader
        return False, "starting"

    server = None if config.metrics_port is None else HealthServer(config.metrics_host, config.metrics_port,
                                                                    readiness)
    if server is not None:
        await server.start()
    background = [asyncio.create_task(telemetry.watch_loop_lag())]
    try:
        await pause.read_once()  # known before the first experiment is looked at
        background.append(asyncio.create_task(pause.run()))
        if elector is not None and not await _first(elector.acquire(), stop_flag):
            return  # asked to stop while standing by
        if elector is None:
            telemetry.set_leader(True)
        background.append(asyncio.create_task(telemetry.collect(
            lambda: kube.list_all_experiments(tuple(config.namespaces)),
            lambda: kube.list_pods(config.operator_namespace, HELPER_SELECTOR))))
        await _lead(config, cfg, kube, Gates(pause.reason, config.require_opt_in, config.disabled_faults), elector,
                    stop_flag, ready_flag, kopf_ready)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if server is not None:
            await server.stop()
        kube.close()
        own.close()


def open_load(config: OperatorConfig, kube: KubeLoadClient, clock: SystemClock) -> LoadFactory:
    """The load runner the config names: the experiment's Job of load workers, or the in-process generator."""
    if config.load_runner == "workers":
        if config.load_token_key is None:
            log.warning("no --load-token-key-file: the load workers' tokens use a key of this process only")
        key = config.load_token_key or os.urandom(32)
        return WorkerLoadFactory(kube, kube, clock, config.image, key, config.operator_namespace,
                                 poll_s=min(1.0, config.poll_s))
    return HttpLoadFactory(kube, config.resolver or ClusterDnsResolver(), clock)


async def _lead(config: OperatorConfig, cfg: Any, kube: KubeLoadClient, gates: Gates, elector: Elector | None,
                stop_flag: Flag | None, ready_flag: Flag | None, kopf_ready: asyncio.Event) -> None:
    clock = SystemClock()
    load = open_load(config, kube, clock)
    deps = Deps(
        kube=kube, clock=clock,
        open_load=load, discard_load=load.discard if isinstance(load, WorkerLoadFactory) else None,
        adopt_load=load.adopt if isinstance(load, WorkerLoadFactory) else None,
        operator_namespace=config.operator_namespace, allowed_namespaces=config.allowed_namespaces,
        protected_namespaces=config.protected_namespaces,
        operator_pods=config.operator_pods, poll_s=config.poll_s,
        open_metrics=functools.partial(PrometheusSource, allowed=config.prometheus_urls),
        recover_retry_s=config.recover_retry_s, slots=Slots(config.max_running),
        max_helpers_per_node=config.max_helpers_per_node,
        image=config.image, gates=gates, observer=telemetry.observe_status,
    )
    registry = kopf.OperatorRegistry()
    handlers.register(registry, deps, connection_info(cfg), namespaces=tuple(config.namespaces))
    kopf_stop = asyncio.Event()
    ready = asyncio.Event()

    async def relay_ready() -> None:
        await ready.wait()
        kopf_ready.set()
        if ready_flag is not None:
            ready_flag.set()

    async def relay_stop() -> None:
        await _flag_set(stop_flag)
        kopf_stop.set()

    lost = asyncio.Event()

    async def hold() -> None:
        if elector is not None:
            await elector.hold()
            lost.set()
            kopf_stop.set()

    helpers = [asyncio.create_task(coro) for coro in (relay_ready(), relay_stop(), hold())]
    operator = asyncio.create_task(kopf.operator(
        registry=registry, settings=handlers.settings(), standalone=True,
        clusterwide=not config.namespaces, namespaces=config.namespaces,
        stop_flag=kopf_stop, ready_flag=ready, liveness_endpoint=config.liveness_endpoint,
    ))
    try:
        await asyncio.wait({operator, helpers[2]} if elector else {operator}, return_when=asyncio.FIRST_COMPLETED)
        if lost.is_set() and elector is not None:
            # Let kopf stop its daemons (they recover their faults), but never past our own lease's end.
            margin = min(1.0, config.lease.retry_s)
            left = elector.expires_at - margin - time.monotonic()
            await asyncio.wait({operator}, timeout=max(0.0, left))
            raise LeadershipLost(f"{elector.identity} could not renew the Lease; stopped handling")
        await operator
    finally:
        for task in [*helpers, operator]:
            task.cancel()
        await asyncio.gather(*helpers, operator, return_exceptions=True)
        if elector is not None and not lost.is_set():
            await elector.release()  # a clean stop: the standby takes over at once
