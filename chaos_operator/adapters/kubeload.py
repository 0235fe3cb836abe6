"""The kube client's calls for the load workers' objects: their Job, config ConfigMap, token Secret and
NetworkPolicy, created and deleted in the experiment's namespace (never read back: the operator reads no
Secret)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client

from chaos_operator.adapters.kube import CONFLICT, NOT_FOUND, KubeClient, done_unless, json_unless

_BACKGROUND = client.V1DeleteOptions(propagation_policy="Background")  # the Job's pods go with it


class KubeLoadClient(KubeClient):
    @functools.cached_property
    def _batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self._api)

    @functools.cached_property
    def _networking(self) -> client.NetworkingV1Api:
        return client.NetworkingV1Api(self._api)

    async def create_load_object(self, namespace: str, body: Mapping[str, Any]) -> str | None:
        """Create a ConfigMap, Secret, NetworkPolicy or Job: the new object's UID, or None when one of that
        deterministic name exists (409)."""
        kind, doc = str(body["kind"]), dict(body)
        creators: dict[str, Callable[..., object]] = {
            "ConfigMap": self._core.create_namespaced_config_map, "Secret": self._core.create_namespaced_secret,
            "Job": self._batch.create_namespaced_job,
            "NetworkPolicy": self._networking.create_namespaced_network_policy}
        create = creators[kind]
        created = await self._run(f"create {kind}", lambda: json_unless(
            lambda: create(namespace, doc, **self._opts), CONFLICT))
        return None if created is None else str((created.get("metadata") or {}).get("uid") or "")

    async def delete_load_object(self, namespace: str, kind: str, name: str) -> bool:
        """Delete it (a Job with its pods); False when it is already gone."""
        deleters: dict[str, Callable[..., object]] = {
            "ConfigMap": self._core.delete_namespaced_config_map, "Secret": self._core.delete_namespaced_secret,
            "Job": self._batch.delete_namespaced_job,
            "NetworkPolicy": self._networking.delete_namespaced_network_policy}
        delete = deleters[kind]
        return await self._run(f"delete {kind}", lambda: done_unless(
            lambda: delete(name, namespace, body=_BACKGROUND, **self._opts), NOT_FOUND))
