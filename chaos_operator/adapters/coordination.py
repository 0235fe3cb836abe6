"""The operator's own objects in its namespace, over the official `kubernetes` client: the leader Lease
(coordination.k8s.io/v1) and the kill-switch ConfigMap."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

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


class CoordinationClient:
    def __init__(self, cfg: client.Configuration) -> None:
        self._api = client.ApiClient(cfg)
        self._coord = client.CoordinationV1Api(self._api)
        self._core = client.CoreV1Api(self._api)

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]

    async def get(self, namespace: str, name: str, timeout: float) -> dict[str, Any] | None:
        return await asyncio.to_thread(json_unless, lambda: self._coord.read_namespaced_lease(
            name, namespace, _preload_content=False, _request_timeout=timeout), NOT_FOUND)

    async def create(self, namespace: str, body: Mapping[str, Any], timeout: float) -> dict[str, Any] | None:
        return await asyncio.to_thread(json_unless, lambda: self._coord.create_namespaced_lease(
            namespace, dict(body), _preload_content=False, _request_timeout=timeout), CONFLICT)  # type: ignore[arg-type]

    async def replace(self, namespace: str, name: str, body: Mapping[str, Any],
                      timeout: float) -> dict[str, Any] | None:
        # None: deleted, or someone wrote since we read it.
        return await asyncio.to_thread(json_unless, lambda: self._coord.replace_namespaced_lease(
            name, namespace, dict(body), _preload_content=False, _request_timeout=timeout),  # type: ignore[arg-type]
            NOT_FOUND, CONFLICT)

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(json_unless, lambda: self._core.read_namespaced_config_map(
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
        await asyncio.to_thread(call)
