"""KubeApi over the official `kubernetes` client (sync, so every call runs in a worker thread)."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from chaos_operator.adapters import retry
from chaos_operator.models import GROUP, KIND, PLURAL, VERSION
from chaos_operator.ports import ApiRefused, ExperimentRef, StatusConflict

log = logging.getLogger(__name__)
COMPONENT = "chaos-operator"
EVENT_MESSAGE_MAX = 1024  # the API server refuses a longer Event message
T = TypeVar("T")
# Told of every call that fails (operation, HTTP code or None): the metrics adapter counts them.
ErrorHook = Callable[[str, int | None], None]


def client_config(server: str | None = None, kubeconfig: str | None = None,
                  token: str | None = None) -> client.Configuration:
    """An explicit configuration: a server URL (with an optional bearer token), a kubeconfig file, or the
    in-cluster service account.

    Never the process-wide default, so a test or a misconfigured pod cannot reach a cluster by accident.
    """
    cfg = client.Configuration()
    if server:
        cfg.host = server
        if token:  # tests give the operator an identity of its own, so the emulator can tell its calls apart
            cfg.api_key = {"authorization": f"Bearer {token}"}
    elif kubeconfig:
        config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)  # type: ignore[no-untyped-call]
    else:
        config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    return cfg


SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def in_cluster() -> bool:
    """Inside a pod with a mounted service account (what load_incluster_config needs)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.isfile(f"{SERVICE_ACCOUNT_DIR}/token")


def user_config(server: str | None = None, kubeconfig: str | None = None) -> client.Configuration:
    """For commands people and Jobs run (submit, report): explicit server or kubeconfig first; else the service
    account inside a pod, and the kubeconfig ($KUBECONFIG or ~/.kube/config) elsewhere."""
    if server or kubeconfig or in_cluster():
        return client_config(server, kubeconfig)
    cfg = client.Configuration()
    config.load_kube_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    return cfg


def default_namespace(server: str | None = None, kubeconfig: str | None = None) -> str:
    """The namespace a command acts in when none is given: the pod's own, or the kubeconfig context's."""
    if server:
        return "default"
    if not kubeconfig and in_cluster():
        try:
            with open(f"{SERVICE_ACCOUNT_DIR}/namespace", encoding="utf-8") as handle:
                return handle.read().strip() or "default"
        except OSError:
            return "default"
    try:
        _, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    except Exception:  # no kubeconfig: the connection attempt will say so
        return "default"
    return str((active or {}).get("context", {}).get("namespace") or "default")


REQUEST_TIMEOUT_S = 20.0  # each API call's read timeout (the engine bounds a status write at 30 s on its Clock)
CONNECT_TIMEOUT_S = 5.0


class KubeClient:
    def __init__(self, cfg: client.Configuration, on_error: ErrorHook | None = None,
                 request_timeout: float = REQUEST_TIMEOUT_S) -> None:
        # Every call carries it: with none, a hung API server held a call (and its worker thread) for ever.
        # _preload_content=False: plain JSON dicts, not generated model objects.
        self._opts: dict[str, Any] = {"_preload_content": False,
                                      "_request_timeout": (min(CONNECT_TIMEOUT_S, request_timeout), request_timeout)}
        self._api = client.ApiClient(cfg)
        self._api.user_agent = COMPONENT  # the name an API server's audit log (and the sandbox's call record) shows
        self._core = client.CoreV1Api(self._api)
        self._custom = client.CustomObjectsApi(self._api)
        self._on_error = on_error

    async def _run(self, operation: str, call: Callable[[], T]) -> T:
        """Run a blocking client call in a worker thread, again after a transient refusal (retry.py); report
        each failure."""
        for attempt in range(retry.ATTEMPTS):
            try:
                return await asyncio.to_thread(call)
            except Exception as exc:
                cause = exc if isinstance(exc, ApiException) else exc.__cause__  # StatusConflict wraps a 409
                if self._on_error is not None:
                    self._on_error(operation, cause.status if isinstance(cause, ApiException) else None)
                wait = _retry_delay(exc, attempt)
                if wait is None and isinstance(exc, ApiException):
                    raise _refused(exc) from exc
                if wait is None:
                    raise
                log.info("%s failed (%s); again in %.1fs", operation, exc.__class__.__name__, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]

    async def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        def call() -> list[dict[str, Any]]:
            resp = self._core.list_namespaced_pod(namespace, label_selector=label_selector,
                                                  **self._opts)
            return list(_json(resp).get("items", []))
        return await self._run("list_pods", call)

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._run("get_pod", lambda: json_unless(
            lambda: self._core.read_namespaced_pod(name, namespace, **self._opts), NOT_FOUND))

    async def create_pod(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        # A plain JSON dict is sent as it is (the client serialises dicts unchanged). None on 409: a pod of this
        # deterministic name exists from an earlier attempt.
        return await self._run("create_pod", lambda: json_unless(lambda: self._core.create_namespaced_pod(
            namespace, dict(body), **self._opts), CONFLICT))  # type: ignore[arg-type]

    async def delete_pod_by_name(self, namespace: str, name: str, grace_period_seconds: int | None) -> bool:
        body = client.V1DeleteOptions(grace_period_seconds=grace_period_seconds)

        return await self._run("delete_pod_by_name", lambda: done_unless(lambda: self._core.delete_namespaced_pod(
            name, namespace, body=body, **self._opts), NOT_FOUND))

    async def delete_pod(self, namespace: str, name: str, uid: str, grace_period_seconds: int) -> bool:
        body = client.V1DeleteOptions(grace_period_seconds=grace_period_seconds,
                                      preconditions=client.V1Preconditions(uid=uid))

        # False: gone (404), or the name now belongs to a replacement (409).
        return await self._run("delete_pod", lambda: done_unless(lambda: self._core.delete_namespaced_pod(
            name, namespace, body=body, **self._opts), NOT_FOUND, CONFLICT))

    async def get_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._run("get_service", lambda: json_unless(
            lambda: self._core.read_namespaced_service(name, namespace, **self._opts), NOT_FOUND))

    async def get_namespace(self, name: str) -> dict[str, Any] | None:
        return await self._run("get_namespace", lambda: json_unless(
            lambda: self._core.read_namespace(name, **self._opts), NOT_FOUND))

    async def list_all_experiments(self, namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every ChaosExperiment in these namespaces (all namespaces when empty)."""
        def call() -> list[dict[str, Any]]:
            if not namespaces:
                return list(_json(self._custom.list_cluster_custom_object(
                    GROUP, VERSION, PLURAL, **self._opts)).get("items", []))
            items: list[dict[str, Any]] = []
            for ns in namespaces:
                items += _json(self._custom.list_namespaced_custom_object(
                    GROUP, VERSION, ns, PLURAL, **self._opts)).get("items", [])
            return items
        return await self._run("list_all_experiments", call)

    async def get_experiment(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._run("get_experiment", lambda: json_unless(lambda: self._custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, **self._opts), NOT_FOUND))

    async def create_experiment(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            return _json(self._custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, dict(body), **self._opts))
        return await asyncio.to_thread(call)

    async def list_experiments(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        def call() -> list[dict[str, Any]]:
            resp = self._custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                              label_selector=label_selector, **self._opts)
            return list(_json(resp).get("items", []))
        return await asyncio.to_thread(call)

    async def delete_experiment(self, namespace: str, name: str, uid: str) -> bool:
        """Delete only the experiment with this uid; False when it is already gone or was replaced."""
        body = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=uid))

        return await asyncio.to_thread(done_unless, lambda: self._custom.delete_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, body=body, **self._opts), NOT_FOUND, CONFLICT)

    async def patch_experiment_spec(self, namespace: str, name: str, spec: Mapping[str, Any]) -> None:
        """A JSON merge patch of spec (the client sends a dict body as a merge patch to custom objects)."""
        await asyncio.to_thread(self._custom.patch_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
                                name, {"spec": dict(spec)}, **self._opts)

    async def patch_experiment_status(self, namespace: str, name: str, status: Mapping[str, Any],
                                      resource_version: str | None = None) -> str | None:
        body: dict[str, Any] = {"status": dict(status)}
        if resource_version is not None:
            # A merge patch that names a resourceVersion is refused (409) once the object has another one.
            body["metadata"] = {"resourceVersion": resource_version}

        def call() -> str | None:
            try:
                resp = self._custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, PLURAL, name, body, **self._opts)
            except ApiException as exc:
                if exc.status == 409:
                    raise StatusConflict(f"{namespace}/{name}: {exc.reason}") from exc
                raise
            version = (_json(resp).get("metadata") or {}).get("resourceVersion")
            return None if version is None else str(version)
        return await self._run("patch_experiment_status", call)

    async def create_event(self, ref: ExperimentRef, type_: str, reason: str, message: str,
                           time: datetime.datetime) -> None:
        stamp = time.astimezone(datetime.UTC)
        body = client.CoreV1Event(
            api_version="v1", kind="Event",
            metadata=client.V1ObjectMeta(name=f"{ref.name}.{uuid.uuid4().hex[:16]}", namespace=ref.namespace),
            involved_object=client.V1ObjectReference(api_version=f"{GROUP}/{VERSION}", kind=KIND, name=ref.name,
                                                     namespace=ref.namespace, uid=ref.uid),
            reason=reason, message=message[:EVENT_MESSAGE_MAX], type=type_,
            source=client.V1EventSource(component=COMPONENT), reporting_component=COMPONENT,
            first_timestamp=stamp, last_timestamp=stamp, count=1,
        )
        await self._run("create_event", lambda: self._core.create_namespaced_event(
            ref.namespace, body, **self._opts))


NOT_FOUND, CONFLICT = 404, 409


def unless(call: Callable[[], T], *statuses: int) -> T | None:
    """``call()``, or None when the API answers with one of ``statuses`` (404: gone; 409: exists, or changed
    since it was read): answers a caller expects, not errors."""
    try:
        return call()
    except ApiException as exc:
        if exc.status in statuses:
            return None
        raise


def json_unless(call: Callable[[], Any], *statuses: int) -> dict[str, Any] | None:
    """The JSON object of a ``_preload_content=False`` call, or None as ``unless`` says."""
    resp = unless(call, *statuses)
    return None if resp is None else _json(resp)


def done_unless(call: Callable[[], object], *statuses: int) -> bool:
    """True when the call went through, False when the API answered with one of ``statuses``."""
    return unless(lambda: call() or True, *statuses) is not None


def _json(resp: Any) -> dict[str, Any]:
    data = json.loads(resp.data)
    assert isinstance(data, dict)
    return data


def _retry_delay(exc: BaseException, attempt: int) -> float | None:
    if isinstance(exc, ApiException):
        headers = exc.headers or {}
        return retry.delay(attempt, exc.status, headers.get("Retry-After") if hasattr(headers, "get") else None)
    # Refused or reset (urllib3 wraps them in MaxRetryError); never a read timeout.
    dropped = isinstance(exc, ProtocolError) or (
        isinstance(exc, MaxRetryError) and isinstance(exc.reason, NewConnectionError | ProtocolError))
    return retry.delay(attempt, None, dropped=dropped)


def _refused(exc: ApiException) -> ApiRefused:
    """The server's own answer: code, reason and the message of its Status body (never the headers)."""
    message = ""
    try:
        body = json.loads(exc.body) if exc.body else {}
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
    except (TypeError, ValueError):
        message = ""
    return ApiRefused(int(exc.status or 0), str(exc.reason or "Error"), message[:EVENT_MESSAGE_MAX])
