"""The operator's own objects in its namespace, over the official `kubernetes` client: the leader Lease
(coordination.k8s.io/v1) and the kill-switch ConfigMap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException


class CoordinationClient:
    def __init__(self, cfg: client.Configuration) -> None:
        self._api = client.ApiClient(cfg)
        self._coord = client.CoordinationV1Api(self._api)
        self._core = client.CoreV1Api(self._api)

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]

    async def get(self, namespace: str, name: str, timeout: float) -> dict[str, Any] | None:
        def call() -> dict[str, Any] | None:
            try:
                return _json(self._coord.read_namespaced_lease(name, namespace, _preload_content=False,
                                                               _request_timeout=timeout))
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
        return await asyncio.to_thread(call)

    async def create(self, namespace: str, body: Mapping[str, Any], timeout: float) -> dict[str, Any] | None:
        def call() -> dict[str, Any] | None:
            try:
                return _json(self._coord.create_namespaced_lease(
                    namespace, dict(body), _preload_content=False, _request_timeout=timeout))  # type: ignore[arg-type]
            except ApiException as exc:
                if exc.status == 409:
                    return None
                raise
        return await asyncio.to_thread(call)

    async def replace(self, namespace: str, name: str, body: Mapping[str, Any],
                      timeout: float) -> dict[str, Any] | None:
        def call() -> dict[str, Any] | None:
            try:
                return _json(self._coord.replace_namespaced_lease(
                    name, namespace, dict(body), _preload_content=False, _request_timeout=timeout))  # type: ignore[arg-type]
            except ApiException as exc:
                if exc.status in (404, 409):  # deleted, or someone wrote since we read it
                    return None
                raise
        return await asyncio.to_thread(call)

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        def call() -> dict[str, Any] | None:
            try:
                return _json(self._core.read_namespaced_config_map(name, namespace, _preload_content=False))
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
        return await asyncio.to_thread(call)

    async def put_configmap(self, namespace: str, name: str, data: Mapping[str, str]) -> None:
        """Create the ConfigMap, or replace its data (last writer wins: it is a switch, not a ledger)."""
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
                "data": dict(data)}

        def call() -> None:
            try:
                self._core.create_namespaced_config_map(namespace, body, _preload_content=False)  # type: ignore[arg-type]
            except ApiException as exc:
                if exc.status != 409:
                    raise
                self._core.replace_namespaced_config_map(name, namespace, body, _preload_content=False)  # type: ignore[arg-type]
        await asyncio.to_thread(call)


def _json(resp: Any) -> dict[str, Any]:
    data = json.loads(resp.data)
    assert isinstance(data, dict)
    return data
