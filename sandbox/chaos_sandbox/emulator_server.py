"""`Emulator`: kmock's `KubernetesEmulator`, extended to behave like a real API server where kopf and clients care.

kmock still parses requests, serves discovery (`/api`, `/apis`, `/apis/G/V`, `/version`) from
`self.resources`, renders `kind: Status` errors, and lets tests add their own reactions in its DSL, which
take priority over ours. We replace its simplistic object handlers with one fallback backed by `Store`.

Deliberate differences from a real server beyond those noted in place: JSON only (no protobuf, no
server-side Table output, so `kubectl get` prints NAME and AGE), no legacy `/api/v1/watch/...` paths
(kopf and kubectl use `?watch=true`), and no periodic BOOKMARK events (`allowWatchBookmarks` is ignored).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp.web
import attrs
from kmock import (
    KubernetesEmulator,
    KubernetesError,
    KubernetesScaffold,
    RawHandler,
    Request,
    ResourceInfo,
    resource,
)
from kmock._internal.rendering import Response  # kmock 0.8 re-exports it as kmock.Response, but not in __all__

from chaos_sandbox.emulator_discovery import api_resource_list, openapi_group_version, openapi_root
from chaos_sandbox.emulator_patching import JSON_PATCH, MERGE_PATCH
from chaos_sandbox.emulator_resources import (
    CRD_GROUP,
    CRD_PLURAL,
    ResourceType,
    api_error,
    builtin_resources,
    crd_resources,
    crd_status,
)
from chaos_sandbox.emulator_selectors import Selector, SelectorError
from chaos_sandbox.emulator_store import Event, Obj, Store

NAMESPACES_ALIAS = "/api/v1/namespaces//namespaces"


def status_body(exc: KubernetesError) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
            "code": exc.status, "reason": exc.reason, "message": exc.message}


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise api_error(400, "BadRequest", f"{name} must be an integer, not {raw!r}") from None


@attrs.define(kw_only=True)
class Emulator(KubernetesEmulator):
    history: int = 10_000  # events kept for watches from a resourceVersion; older ones get 410 Expired
    store: Store = attrs.field(init=False)
    # A real server ends watches after a randomised 30..60 minutes; one fixed bound is enough here.
    max_watch_seconds: float = 1800.0

    def __attrs_post_init__(self) -> None:
        # Not KubernetesEmulator's: its object handlers would shadow ours. Discovery and 404s stay kmock's.
        KubernetesScaffold.__attrs_post_init__(self)
        self.store = Store(self.history)
        self.fallback[self._is_object_request] << self._serve
        self.fallback["get /openapi/v3"] << self._serve_openapi_root
        self.fallback["get", re.compile(r"/openapi/v3/.+")] << self._serve_openapi_group_version
        for res, info in builtin_resources():
            self.resources[res] = info
        self.store.on_delete = self.on_delete
        self.store.listeners.append(self._track_crds)

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        if raw_request.path.rstrip("/") == "/api/v1/namespaces":
            # kmock's path parser fails on the bare namespace list; this alias parses as namespace "".
            url = raw_request.rel_url.with_path(NAMESPACES_ALIAS).with_query(raw_request.rel_url.query)
            raw_request = raw_request.clone(rel_url=url)
        try:
            return await super().__call__(raw_request)
        finally:
            # kmock keeps every failure for its strict mode; 404s and 409s are answers here, not emulator faults.
            for errors in self._errors:
                errors[:] = [error for error in errors if not isinstance(error, KubernetesError)]

    async def _handle(self, request: Request) -> Any:
        # Skip KubernetesEmulator._handle, which mirrors writes into kmock's own (unused here) object store.
        return await RawHandler._handle(self, request)

    def on_delete(self, rtype: ResourceType, obj: Obj, grace: int | None) -> bool:
        """Called once when deletion of an object starts. Return True to defer its removal: it then gets
        `deletionTimestamp` and stays until `self.store.remove(...)` (a sandbox kubelet's graceful stop).
        By default nothing defers, so objects without finalizers (Pods too: no kubelet) vanish at once."""
        return False

    # ---- resource types ----
    @staticmethod
    def _is_object_request(request: Request) -> bool:
        res = request.resource
        return res is not None and res.version is not None and (res.plural is not None or request.namespace is not None)

    def _target(self, request: Request) -> tuple[ResourceType, str | None, str | None, str | None]:
        """(resource type, namespace, name, subresource) of an object request."""
        res = request.resource
        assert res is not None  # guaranteed by _is_object_request
        if res.group == "" and request.namespace and not request.name and res.plural in (None, "status", "finalize"):
            # kmock reads /api/v1/namespaces/NAME[/status] as a namespace prefix with no resource in it
            return self.resource_type(resource("", res.version, "namespaces")), None, request.namespace, res.plural
        return self.resource_type(res), request.namespace or None, request.name, request.subresource

    # ---- discovery (kmock routes these paths here; we only fix the bodies) ----
    async def _serve_version(self, request: Request) -> Any:
        assert request.resource is not None  # kmock only routes /api/V and /apis/G/V here
        group, version = request.resource.group or "", request.resource.version or ""
        body = api_resource_list(group, version, self.entries())
        if group and not body["resources"]:
            raise api_error(404, "NotFound", "the server could not find the requested resource")
        return body

    async def _serve_openapi_root(self, request: Request) -> Any:
        return openapi_root(self.entries())

    async def _serve_openapi_group_version(self, request: Request) -> Any:
        body = openapi_group_version(request.url.path.removeprefix("/openapi/v3/"), self.entries())
        if body is None:
            raise api_error(404, "NotFound", "the server could not find the requested resource")
        return body

    def resource_type(self, res: Any) -> ResourceType:
        key = resource(res.group, res.version, res.plural)
        if key not in self.resources:
            raise api_error(404, "NotFound", "the server could not find the requested resource")
        info = self.resources[key]
        return ResourceType(key.group or "", key.version or "", key.plural or "", info.kind or "",
                            bool(info.namespaced), "status" in info.subresources)

    def entries(self) -> list[tuple[resource, ResourceInfo]]:
        """Every served resource with its discovery info."""
        return [(resource(key), self.resources[key]) for key in self.resources]

    def find(self, name: str) -> ResourceType:
        """A resource by plural, short name, `v1/pods` or `group/version/plural`; the core group wins ties."""
        wanted = resource(name)
        found = [res for res, info in self.entries()
                 if wanted.check(res) or (wanted.group is None and wanted.version is None
                                         and wanted.plural in info.shortnames)]
        if not found:
            raise KeyError(name)
        found.sort(key=lambda res: (res.group != "", res.group or ""))
        return self.resource_type(found[0])

    def register_crd(self, crd: Mapping[str, Any]) -> Obj:
        """Store (or update the spec of) a CustomResourceDefinition and serve its resources at once.

        Deliberately unlike a real server: custom objects are never pruned or validated against its schema."""
        crd_crd = self.find(f"{CRD_GROUP}/v1/{CRD_PLURAL}")
        name = crd.get("metadata", {}).get("name", "")
        crd_resources(crd)  # validates before anything is stored
        if any(obj["metadata"]["name"] == name for obj in self.store.list(crd_crd, None)):
            self.store.patch(crd_crd, None, name, [{"op": "replace", "path": "/spec", "value": crd["spec"]}],
                             JSON_PATCH)
        else:
            self.store.create(crd_crd, None, dict(crd))
        return self.store.patch(crd_crd, None, name, {"status": crd_status(crd)}, MERGE_PATCH, "status")

    def _track_crds(self, event: Event) -> None:
        """Keep discovery in line with stored CRDs, however they were written."""
        if event.key != (CRD_GROUP, CRD_PLURAL) or event.type == "BOOKMARK":
            return
        for crd in (event.old, event.obj):
            if crd is None:
                continue
            try:
                entries = crd_resources(crd)
            except KubernetesError:
                continue
            for res, info in entries:
                if crd is event.obj and event.type != "DELETED":
                    self.resources[res] = info
                elif res in self.resources:
                    del self.resources[res]

    # ---- HTTP ----
    async def _serve(self, request: Request) -> Response:
        # kmock keeps one Response per reaction and copies its status into each HTTP response, so every
        # return here sets the status explicitly (no await runs between setting and applying it).
        rtype, namespace, name, sub = self._target(request)
        if (sub is not None and sub != "status") or (sub == "status" and not rtype.has_status):
            raise api_error(404, "NotFound", "the server could not find the requested resource")
        if namespace is not None and not rtype.namespaced:
            raise api_error(404, "NotFound", f"{rtype.plural} is not a namespaced resource")
        method, params = request.method.value.upper(), request.params
        if method == "GET" and params.get("watch") in ("true", "1"):
            return Response(status=200, headers={"Content-Type": "application/json"},
                            payload=self._watch_stream(params, rtype, namespace, name))
        if method == "GET" and name:
            return Response(status=200, payload=self.store.get(rtype, namespace, name))
        if method == "GET":
            return Response(status=200, payload=self._list(rtype, namespace, self._selector(params)))
        if method == "POST" and not name:
            if rtype.key == (CRD_GROUP, CRD_PLURAL):
                crd_resources(request.data or {})  # 422 before storing an unusable CRD
                self.store.create(rtype, namespace, request.data)
                return Response(status=201, payload=self.register_crd(request.data))
            return Response(status=201, payload=self.store.create(rtype, namespace, request.data))
        if method == "PUT" and name:
            return Response(status=200, payload=self.store.replace(rtype, namespace, name, request.data, sub))
        if method == "PATCH" and name:
            content_type = next((v for k, v in request.headers.items() if k.lower() == "content-type"), "")
            patched = self.store.patch(rtype, namespace, name, request.data, content_type, sub)
            return Response(status=200, payload=patched)
        grace = _int_param(params, "gracePeriodSeconds")
        if method == "DELETE" and name and not sub:
            return Response(status=200, payload=self.store.delete(rtype, namespace, name, request.data, grace))
        if method == "DELETE" and not name:
            items = [self.store.delete(rtype, obj["metadata"].get("namespace"), obj["metadata"]["name"],
                                       request.data, grace)
                     for obj in self.store.list(rtype, namespace, self._selector(params))]
            return Response(status=200, payload=self._list_body(rtype, items))
        raise api_error(405, "MethodNotAllowed", f"{method} is not supported here")

    @staticmethod
    def _selector(params: Mapping[str, str]) -> Selector:
        try:
            return Selector.parse(params.get("labelSelector"), params.get("fieldSelector"))
        except SelectorError as exc:
            raise api_error(400, "BadRequest", str(exc)) from exc

    def _list_body(self, rtype: ResourceType, items: list[Obj]) -> dict[str, Any]:
        # `limit` is ignored and `continue` never set: every list fits in one page.
        return {"apiVersion": rtype.api_version, "kind": f"{rtype.kind}List",
                "metadata": {"resourceVersion": str(self.store.rv)}, "items": items}

    def _list(self, rtype: ResourceType, namespace: str | None, selector: Selector) -> dict[str, Any]:
        return self._list_body(rtype, self.store.list(rtype, namespace, selector))

    def _watch_stream(self, params: Mapping[str, str], rtype: ResourceType, namespace: str | None,
                      name: str | None) -> AsyncIterator[Any]:
        selector = self._selector(params)  # errors here still become plain HTTP 400s
        since = _int_param(params, "resourceVersion") or None  # "0" and "" mean "from the current state"
        timeout = _int_param(params, "timeoutSeconds")
        seconds = min(float(timeout), self.max_watch_seconds) if timeout and timeout > 0 else self.max_watch_seconds
        bookmark = params.get("sendInitialEvents") == "true" and since is None
        return self._watch(rtype, namespace, name, selector, since, seconds, bookmark)

    async def _watch(self, rtype: ResourceType, namespace: str | None, name: str | None, selector: Selector,
                     since: int | None, seconds: float, bookmark: bool) -> AsyncIterator[Any]:
        try:  # register before the headers go out, so a client that saw them misses no event
            watcher = self.store.watch(rtype, namespace, name, selector, since, bookmark)
        except KubernetesError as exc:  # 410 Expired goes in-stream, as a real server sends it
            yield b""
            yield {"type": "ERROR", "object": status_body(exc)}
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            yield b""  # send the headers now: clients wait for them before any event arrives
            while (remaining := deadline - loop.time()) > 0:
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), remaining)
                except TimeoutError:
                    break
                if event is None:  # the emulator is shutting down
                    break
                translated = watcher.translate(event)
                if translated is not None:
                    yield translated
        finally:  # also on client disconnect: aiohttp cancels the handler and the generator closes
            self.store.unwatch(watcher)
