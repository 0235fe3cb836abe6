"""The operator's own objects in its namespace, over the official `kubernetes` client: the leader Lease
(coordination.k8s.io/v1) and the kill-switch ConfigMap.

The client is blocking, so each call runs on a thread. These calls get threads of their own: on the event loop's
shared default pool (min(32, CPUs + 4) threads, 6 on two cores) a dozen experiments' status writes to a hung route
held every thread for their whole timeout and the Lease was not renewed: the leader handed over for a fault that
had nothing to do with it (tests/integration/test_lease_under_hung_route.py)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from kubernetes import client

from chaos_operator.adapters.kube import (
    CONFLICT,
    CONNECT_TIMEOUT_S,
    NOT_FOUND,
    REQUEST_TIMEOUT_S,
    done_unless,
    json_unless,
)

TIMEOUT = (CONNECT_TIMEOUT_S, REQUEST_TIMEOUT_S)  # the ConfigMap calls (Lease calls are given theirs)
THREADS = 2  # the elector makes one call at a time; the kill switch's watcher another
T = TypeVar("T")


class CoordinationClient:
    def __init__(self, cfg: client.Configuration) -> None:
        self._api = client.ApiClient(cfg)
        self._coord = client.CoordinationV1Api(self._api)
        self._core = client.CoreV1Api(self._api)
        self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="coordination")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._api.close()  # type: ignore[no-untyped-call]

    async def _on_own_thread(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(call, *args))

    async def get(self, namespace: str, name: str, timeout: float) -> dict[str, Any] | None:
        return await self._on_own_thread(json_unless, lambda: self._coord.read_namespaced_lease(
            name, namespace, _preload_content=False, _request_timeout=timeout), NOT_FOUND)

    async def create(self, namespace: str, body: Mapping[str, Any], timeout: float) -> dict[str, Any] | None:
        return await self._on_own_thread(json_unless, lambda: self._coord.create_namespaced_lease(
            namespace, dict(body), _preload_content=False, _request_timeout=timeout), CONFLICT)  # type: ignore[arg-type]

    async def replace(self, namespace: str, name: str, body: Mapping[str, Any],
                      timeout: float) -> dict[str, Any] | None:
        # None: deleted, or someone wrote since we read it.
        return await self._on_own_thread(json_unless, lambda: self._coord.replace_namespaced_lease(
            name, namespace, dict(body), _preload_content=False, _request_timeout=timeout),  # type: ignore[arg-type]
            NOT_FOUND, CONFLICT)

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._on_own_thread(json_unless, lambda: self._core.read_namespaced_config_map(
            name, namespace, _preload_content=False, _request_timeout=TIMEOUT), NOT_FOUND)

    async def put_configmap(self, namespace: str, name: str, data: Mapping[str, str]) -> None:
        """Create the ConfigMap, or replace its data (last writer wins: it is a switch, not a ledger)."""
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
                "data": dict(data)}

        def call() -> None:
            if not done_unless(lambda: self._core.create_namespaced_config_map(
                    namespace, body, _preload_content=False, _request_timeout=TIMEOUT), CONFLICT):  # type: ignore[arg-type]
                self._core.replace_namespaced_config_map(name, namespace, body,  # type: ignore[arg-type]
                                                         _preload_content=False, _request_timeout=TIMEOUT)
        await self._on_own_thread(call)
