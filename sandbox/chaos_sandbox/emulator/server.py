"""`Emulator`: an aiohttp handler that serves a Kubernetes API over `Store`, behaving like a real API server where
kopf, the official client and kubectl care.

A request costs the same however long the emulator has run: nothing keeps a log of requests (only the bounded
set of distinct `ApiCall`s), and the store keeps a bounded event history for watches.

Deliberate differences from a real server beyond those noted in place: JSON and YAML only (a protobuf body gets
415, and clients then resend JSON), authentication and RBAC as `authz.py` says (off unless
`authorization="RBAC"`), no legacy `/api/v1/watch/...` paths (kopf and kubectl use `?watch=true`), no
periodic BOOKMARK events (`allowWatchBookmarks` is ignored), server-side apply with lists owned whole (`apply.py`),
no paging (`limit` is ignored), and built-in kinds are stored as sent (only custom objects are checked against a
schema, their CRD's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp.web

from chaos_sandbox.emulator import discovery
from chaos_sandbox.emulator.admission import Admission, DryRun
from chaos_sandbox.emulator.apply import is_apply
from chaos_sandbox.emulator.authz import REVIEW_GROUP, Auth
from chaos_sandbox.emulator.http import (
    ALL_CALLS,
    ApiCall,
    Target,
    bearer,
    client_name,
    int_param,
    read_body,
    respond,
    respond_error,
    verb_of,
)
from chaos_sandbox.emulator.misbehave import Misbehaviour
from chaos_sandbox.emulator.patching import JSON_PATCH, MERGE_PATCH
from chaos_sandbox.emulator.rbac import Identity, Policy, Request
from chaos_sandbox.emulator.resources import (
    CRD_GROUP,
    CRD_PLURAL,
    ApiError,
    ResKey,
    ResourceInfo,
    ResourceType,
    api_error,
    builtin_resources,
    crd_resources,
    crd_status,
)
from chaos_sandbox.emulator.selectors import Selector, SelectorError
from chaos_sandbox.emulator.store import Admit, Event, Obj, Store
from chaos_sandbox.emulator.tables import table, wants_table
from chaos_sandbox.emulator.watchstream import serve_watch
from chaos_sandbox.emulator.writes import admit_for, apply_request, policies_for

NOT_FOUND = "the server could not find the requested resource"


class Emulator:
    """Call it with an `aiohttp.web.BaseRequest` (it is an `aiohttp.web.Server` handler).

    `validate`: check custom objects written over HTTP against their CRD's schema and CEL rules and prune
    unknown fields, as a real server does (turn it off to store objects another CRD version would accept).
    `calls`: the distinct `ApiCall`s served so far; every emulator also adds them to `ALL_CALLS`.
    `authorization`: "RBAC" authorizes every request against the stored RBAC objects (a cluster always does);
    "AlwaysAllow" (the default, for harnesses that store no RBAC) serves every caller. `auth` issues tokens."""

    def __init__(self, *, history: int = 10_000, max_watch_seconds: float = 1800.0, validate: bool = True,
                 authorization: str = "AlwaysAllow") -> None:
        self.history = history  # events kept for watches from a resourceVersion; older ones get 410 Expired
        # A real server ends watches after a randomised 30..60 minutes; one fixed bound is enough here.
        self.max_watch_seconds = max_watch_seconds
        self.validate = validate
        self.store = Store(history)
        self.resources: dict[ResKey, ResourceInfo] = dict(builtin_resources())
        self._calls: set[ApiCall] = set()
        self.stalls: dict[tuple[str, str], float] = {}  # (verb, resource) -> seconds before it is answered
        self.stalled = 0  # requests held by a stall right now (tests wait for their clients to be stuck)
        self.misbehave = Misbehaviour()  # queued error answers per route (429, 500, ...) for clients' retries
        self.store.on_delete = self.on_delete
        self.store.listeners.append(self._track_crds)
        self.auth = Auth(authorization, self.rbac_policy)

    def rbac_policy(self) -> Policy:
        def stored(plural: str) -> list[Obj]:
            return self.store.list(self.find(f"rbac.authorization.k8s.io/v1/{plural}"), None)
        return Policy(stored("roles"), stored("clusterroles"), stored("rolebindings"), stored("clusterrolebindings"))

    @property
    def calls(self) -> frozenset[ApiCall]:
        return frozenset(self._calls)

    def on_delete(self, rtype: ResourceType, obj: Obj, grace: int | None) -> bool:
        """Called once when deletion of an object starts. Return True to defer its removal: it then gets
        `deletionTimestamp` and stays until `self.store.remove(...)` (a sandbox kubelet's graceful stop).
        By default nothing defers, so objects without finalizers (Pods too: no kubelet) vanish at once."""
        return False

    # ---- resource types ----
    def resource_type(self, res: ResKey) -> ResourceType:
        info = self.resources.get(res)
        if info is None:
            raise api_error(404, "NotFound", NOT_FOUND)
        return ResourceType(res.group, res.version, res.plural, info.kind, info.namespaced,
                            "status" in info.subresources)

    def entries(self) -> list[tuple[ResKey, ResourceInfo]]:
        """Every served resource with its discovery info."""
        return list(self.resources.items())

    def find(self, name: str) -> ResourceType:
        """A resource by plural, short name, `v1/pods` or `group/version/plural`; the core group wins ties."""
        parts = name.split("/")
        group, version = (parts[0], parts[1]) if len(parts) == 3 else (None, parts[0] if len(parts) == 2 else None)
        plural = parts[-1]
        found = [res for res, info in self.resources.items()
                 if (group is None or res.group == group) and (version is None or res.version == version)
                 and (res.plural == plural or (len(parts) == 1 and plural in info.shortnames))]
        if not found:
            raise KeyError(name)
        found.sort(key=lambda res: (res.group != "", res.group))
        return self.resource_type(found[0])

    def register_crd(self, crd: Mapping[str, Any]) -> Obj:
        """Store (or update the spec of) a CustomResourceDefinition and serve its resources at once."""
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
            except ApiError:
                continue
            for res, info in entries:
                if crd is event.obj and event.type != "DELETED":
                    self.resources[res] = info
                else:
                    self.resources.pop(res, None)

    # ---- HTTP ----
    async def __call__(self, request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        try:
            return await self._route(request)
        except ApiError as exc:
            return respond_error(exc)

    async def _route(self, request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        who = self.auth.authenticate(bearer(request), request.headers, request.headers.getall("Impersonate-Group", []))
        parts = [part for part in request.path.split("/") if part]
        if request.method == "GET":
            body = discovery.discovery_body(parts, self.entries())
            if body is not None:
                self.auth.check(who, Request("get", path=request.path))
                return respond(body)
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise api_error(404, "NotFound", NOT_FOUND)
        target = Target.parse(group, version, rest)
        params = request.query
        watch = params.get("watch") in ("true", "1")
        verb = verb_of(request.method, target, watch)
        # As the API server's RBAC sees it: a Namespace object is in its own namespace.
        own = target.name if not group and target.plural == "namespaces" else None
        call = ApiCall(verb, group, target.plural, target.subresource or "", target.namespace or own or "",
                       bearer(request), client_name(request))
        self._calls.add(call)
        ALL_CALLS.add(call)
        self.auth.check(who, Request(verb, group, target.plural, target.subresource or "", call.namespace,
                                     target.name or ""))
        if group == REVIEW_GROUP and verb == "create" and not target.name:
            return respond(self.auth.review(who, target.plural, await read_body(request)), 201)
        namespace, name = target.namespace, target.name
        if (group, target.plural, target.subresource, verb) == ("", "serviceaccounts", "token", "create") \
                and namespace is not None and name is not None:
            self.store.get(self.find("v1/serviceaccounts"), namespace, name)  # 404 if there is none
            return respond(self.auth.token_request(namespace, name, await read_body(request)), 201)
        if (stall := self.stalls.get((verb, target.plural))) is not None:  # a hung route, for clients' timeouts
            self.stalled += 1
            try:
                await asyncio.sleep(stall)
            finally:
                self.stalled -= 1
        route = f"{target.plural}/{target.subresource}" if target.subresource else target.plural
        if (failure := self.misbehave.answer(verb, route)) is not None:
            return failure
        rtype = self.resource_type(ResKey(group, version, target.plural))
        sub = target.subresource
        if (sub is not None and sub != "status") or (sub == "status" and not rtype.has_status):
            raise api_error(404, "NotFound", NOT_FOUND)
        if target.namespace is not None and not rtype.namespaced:
            raise api_error(404, "NotFound", f"{rtype.plural} is not a namespaced resource")
        if verb == "watch":
            info = self.resources[ResKey(rtype.group, rtype.version, rtype.plural)]
            return await serve_watch(self.store, info, self.max_watch_seconds, request, rtype, target,
                                     self._selector(request.query))
        if verb in ("get", "list"):
            return self._read(request, rtype, target)
        manager = params.get("fieldManager") or client_name(request) or "unknown"
        return self._write(verb, rtype, target, await read_body(request), params,
                           request.headers.get("Content-Type", ""), manager, who)

    def _read(self, request: aiohttp.web.BaseRequest, rtype: ResourceType, target: Target) -> aiohttp.web.Response:
        if target.name:
            items = [self.store.get(rtype, target.namespace, target.name)]
            body: Any = items[0]
        else:
            items = self.store.list(rtype, target.namespace, self._selector(request.query))
            body = self._list_body(rtype, items)
        if wants_table(request.headers.get("Accept", "")):
            info = self.resources[ResKey(rtype.group, rtype.version, rtype.plural)]
            body = table(info, items, str(self.store.rv), request.query.get("includeObject", "Metadata"))
        return respond(body)

    def _write(self, verb: str, rtype: ResourceType, target: Target, data: Any, params: Mapping[str, str],
               content_type: str, manager: str, who: Identity) -> aiohttp.web.Response:
        dry_run = params.get("dryRun") == "All"  # kubectl --dry-run=server: checked and answered, never stored
        admission = Admission(self._schema(rtype), params.get("fieldValidation", "Warn"), self.validate, dry_run)
        if verb in ("create", "update", "patch"):
            admission.policies = policies_for(self.store, self.find, self.auth.allowed, who, rtype, target, dry_run)
        try:
            if verb == "patch" and target.name and is_apply(content_type):
                obj, status = apply_request(self.store, rtype, target, data, params, admission)
                if rtype.key == (CRD_GROUP, CRD_PLURAL):  # served at once, as register_crd does
                    obj = self.store.patch(rtype, None, obj["metadata"]["name"], {"status": crd_status(obj)},
                                           MERGE_PATCH, "status")
                return respond(obj, status, admission.warnings)
            admit = admit_for(admission, rtype, target.subresource or "", manager, None)
            return self._apply(verb, rtype, target, data, params, content_type, admission, admit)
        except DryRun as result:
            return respond(result.obj, 201 if verb == "create" else 200, admission.warnings)

    def _apply(self, verb: str, rtype: ResourceType, target: Target, data: Any, params: Mapping[str, str],
               content_type: str, admission: Admission, admit: Admit) -> aiohttp.web.Response:
        namespace, name, sub = target.namespace, target.name, target.subresource
        if admission.dry_run and verb in ("delete", "deletecollection"):
            found = ([self.store.get(rtype, namespace, name)] if name
                     else self.store.list(rtype, namespace, self._selector(params)))
            return respond(found[0] if name else self._list_body(rtype, found))
        if verb == "create" and not name:
            if rtype.key == (CRD_GROUP, CRD_PLURAL):
                if admission.dry_run:
                    crd_resources(data or {})
                    raise DryRun(data)
                crd_resources(data or {})  # 422 before storing an unusable CRD
                self.store.create(rtype, namespace, data)
                return respond(self.register_crd(data), 201)
            return respond(self.store.create(rtype, namespace, data, admit), 201, admission.warnings)
        if verb == "update" and name:
            return respond(self.store.replace(rtype, namespace, name, data, sub, admit), 200, admission.warnings)
        if verb == "patch" and name:
            patched = self.store.patch(rtype, namespace, name, data, content_type, sub, admit)
            return respond(patched, 200, admission.warnings)
        grace = int_param(params, "gracePeriodSeconds")
        if verb == "delete" and not sub:
            assert name is not None
            return respond(self.store.delete(rtype, namespace, name, data, grace))
        if verb == "deletecollection" and not sub:
            items = [self.store.delete(rtype, obj["metadata"].get("namespace"), obj["metadata"]["name"], data, grace)
                     for obj in self.store.list(rtype, namespace, self._selector(params))]
            return respond(self._list_body(rtype, items))
        raise api_error(405, "MethodNotAllowed", f"{verb} is not supported here")

    def _schema(self, rtype: ResourceType) -> Mapping[str, Any] | None:
        """The CRD schema of a custom resource; None for built-in kinds, which the emulator does not validate."""
        info = self.resources.get(ResKey(rtype.group, rtype.version, rtype.plural))
        return info.schema if info is not None else None

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
