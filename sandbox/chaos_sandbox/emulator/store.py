"""The API emulator's object store: uid, resourceVersion, generation, status subresource, finalizers, watches.

Every method is synchronous and must run on the emulator's event loop thread; with no `await` inside a
write, each write is atomic with respect to watchers, which is what makes watch-from-resourceVersion exact.
"""

from __future__ import annotations

import copy
import datetime
import random
import string
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from chaos_sandbox.emulator import pod_security
from chaos_sandbox.emulator.patching import PatchError, UnsupportedPatchType, apply_patch
from chaos_sandbox.emulator.resources import INITIAL_STATUS, ResourceType, api_error, is_builtin
from chaos_sandbox.emulator.selectors import Selector
from chaos_sandbox.emulator.watch import Event, Obj, Watcher

__all__ = ["Admit", "Event", "Obj", "Store", "Watcher", "now_rfc3339"]
ObjKey = tuple[str, str, str, str]  # group, plural, namespace ('' when cluster-scoped), name
# Metadata only the server sets; a client's values are ignored on create and update.
SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")
DeleteHook = Callable[[ResourceType, Obj, "int | None"], bool]
# An admission step (schema validation and pruning): gets the object about to be stored and the stored one (None
# on create), returns what to store or raises. Requests over HTTP pass one; in-process writers (tests, kubelets)
# write unchecked.
Admit = Callable[[Obj, "Obj | None"], Obj]


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_part(obj: Obj, rt: ResourceType) -> Obj:
    """What `metadata.generation` tracks: everything but metadata (and status, if it has its own endpoint)."""
    skip = {"metadata", "apiVersion", "kind"} | ({"status"} if rt.has_status else set())
    return {key: value for key, value in obj.items() if key not in skip}


class Store:
    def __init__(self, history: int = 10_000) -> None:
        self.rv = 0
        self.objects: dict[ObjKey, Obj] = {}
        self.by_type: dict[tuple[str, str], dict[ObjKey, Obj]] = {}  # the same objects per (group, plural)
        self.history: deque[Event] = deque(maxlen=history)
        self.compacted = 0  # watches from an rv below this get 410 Expired
        self.watchers: set[Watcher] = set()
        self.listeners: list[Callable[[Event], None]] = []
        self.on_delete: DeleteHook = lambda rt, obj, grace: False
        self.deferred: set[ObjKey] = set()  # deletions an on_delete hook took over

    # ---- reads ----
    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> ObjKey:
        return (rt.group, rt.plural, (namespace or "") if rt.namespaced else "", name)

    def _existing(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.objects.get(self._key(rt, namespace, name))
        if obj is None:
            raise api_error(404, "NotFound", f'{rt.plural}.{rt.group or "core"} "{name}" not found',
                            name=name, group=rt.group, kind=rt.plural)
        return obj

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        obj = self.objects.get(self._key(rt, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        return copy.deepcopy(self._existing(rt, namespace, name))

    def list(self, rt: ResourceType, namespace: str | None, selector: Selector | None = None) -> list[Obj]:
        selector = selector or Selector()
        found = [obj for (_, _, ns, _), obj in sorted(self.by_type.get(rt.key, {}).items())
                 if (namespace is None or not rt.namespaced or ns == namespace) and selector.matches(obj)]
        return copy.deepcopy(found)

    # ---- writes ----
    def create(self, rt: ResourceType, namespace: str | None, body: Any, admit: Admit | None = None) -> Obj:
        if not isinstance(body, dict):
            raise api_error(400, "BadRequest", "the body must be a JSON object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise api_error(400, "BadRequest", "metadata must be an object")
        if rt.namespaced:
            if namespace and meta.get("namespace") not in (None, "", namespace):
                raise api_error(400, "BadRequest", "the namespace of the provided object does not match "
                                "the namespace sent on the request")
            namespace = namespace or meta.get("namespace")  # unlike a real server, the Namespace need not exist
            if not namespace:
                raise api_error(400, "BadRequest", "a namespace is required for a namespaced resource")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise api_error(422, "Invalid", "metadata.name or metadata.generateName is required")
            meta["name"] = self._generate_name(rt, namespace, meta["generateName"])
        if rt.key == ("", "pods"):  # Pod Security Admission, by the namespace's labels
            ns_obj = self.objects.get(("", "namespaces", "", namespace or ""), {})
            if refused := pod_security.violations(obj, ns_obj.get("metadata", {}).get("labels")):
                raise api_error(403, "Forbidden", refused, name=meta["name"], kind="pods")
        if self._key(rt, namespace, meta["name"]) in self.objects:
            raise api_error(409, "AlreadyExists", f'{rt.plural} "{meta["name"]}" already exists',
                            name=meta["name"], group=rt.group, kind=rt.plural)
        for server_field in SERVER_META:
            meta.pop(server_field, None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339(), generation=1)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if rt.has_status:  # the status endpoint is the only writer of status
            obj.pop("status", None)
            if rt.key in INITIAL_STATUS:
                obj["status"] = copy.deepcopy(dict(INITIAL_STATUS[rt.key]))
        return self._write(rt, admit(obj, None) if admit else obj, None)

    def _generate_name(self, rt: ResourceType, namespace: str | None, prefix: str) -> str:
        alphabet = string.ascii_lowercase + string.digits
        for _ in range(100):  # bounded: 36**5 names per prefix, collisions are rare
            name = prefix + "".join(random.choices(alphabet, k=5))
            if self._key(rt, namespace, name) not in self.objects:
                return name
        raise api_error(409, "AlreadyExists", f"no free name for generateName {prefix!r}")

    def replace(self, rt: ResourceType, namespace: str | None, name: str, body: Any,
                subresource: str | None = None, admit: Admit | None = None) -> Obj:
        old = self._existing(rt, namespace, name)
        if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
            raise api_error(400, "BadRequest", "the body must be a JSON object")
        return self._update(rt, old, copy.deepcopy(body), subresource, admit)

    def patch(self, rt: ResourceType, namespace: str | None, name: str, patch: Any, content_type: str,
              subresource: str | None = None, admit: Admit | None = None) -> Obj:
        old = self._existing(rt, namespace, name)
        try:
            candidate = apply_patch(old, patch, content_type, rt.kind if is_builtin(rt) else None)
        except UnsupportedPatchType as exc:
            raise api_error(415, "UnsupportedMediaType", str(exc)) from exc
        except PatchError as exc:
            raise api_error(422, "Invalid", str(exc)) from exc
        return self._update(rt, old, candidate, subresource, admit)

    def _update(self, rt: ResourceType, old: Obj, candidate: Obj, subresource: str | None,
                admit: Admit | None) -> Obj:
        old_meta, meta = old["metadata"], candidate.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise api_error(400, "BadRequest", "metadata must be an object")
        if meta.get("name") not in (None, old_meta["name"]):
            raise api_error(400, "BadRequest", "the name of the object does not match the name on the URL")
        if meta.get("resourceVersion") not in (None, "", old_meta["resourceVersion"]):
            raise api_error(409, "Conflict", f'Operation cannot be fulfilled on {rt.plural} "{old_meta["name"]}": '
                            "the object has been modified; please apply your changes to the latest version "
                            "and try again", name=old_meta["name"], group=rt.group, kind=rt.plural)
        if subresource == "status":
            new = copy.deepcopy(old)
            new.pop("status", None)
            if candidate.get("status") is not None:
                new["status"] = candidate["status"]
        else:
            new = candidate
            for key in ("apiVersion", "kind") + (("status",) if rt.has_status else ()):
                new.pop(key, None)
                if key in old:
                    new[key] = copy.deepcopy(old[key])
            for server_field in SERVER_META + ("name", "namespace", "resourceVersion"):
                meta.pop(server_field, None)
                if server_field in old_meta:
                    meta[server_field] = copy.deepcopy(old_meta[server_field])
            if old_meta.get("deletionTimestamp") and set(meta.get("finalizers") or []) - set(
                    old_meta.get("finalizers") or []):
                raise api_error(422, "Invalid", "no new finalizers can be added if the object is being deleted")
        if admit is not None:
            new = admit(new, old)
        if new == old:
            return copy.deepcopy(old)  # a no-op write: like a real server, no new resourceVersion, no event
        if _spec_part(new, rt) != _spec_part(old, rt):
            new["metadata"]["generation"] = old_meta.get("generation", 0) + 1
        return self._write(rt, new, old)

    def delete(self, rt: ResourceType, namespace: str | None, name: str, options: Any,
               grace: int | None = None) -> Obj:
        old = self._existing(rt, namespace, name)
        options = options if isinstance(options, dict) else {}
        preconditions = options.get("preconditions") or {}
        for field_name in ("uid", "resourceVersion"):
            wanted = preconditions.get(field_name)
            if wanted and wanted != old["metadata"].get(field_name):
                raise api_error(409, "Conflict", f"Precondition failed: {field_name} in precondition: {wanted}, "
                                f"{field_name} in object meta: {old['metadata'].get(field_name)}",
                                name=name, group=rt.group, kind=rt.plural)
        grace = options.get("gracePeriodSeconds", grace)
        meta = old["metadata"]
        if meta.get("deletionTimestamp"):
            return copy.deepcopy(old)  # already being deleted
        # Dependents are collected by the node's garbage collector (node/gc.py), which these finalizers ask to
        # delete them first (Foreground) or to let them go (Orphan), as a real server does. No namespace cascade.
        # (A dry-run delete never gets here: the HTTP layer answers it.)
        policy = "Orphan" if options.get("orphanDependents") is True else options.get("propagationPolicy")
        cascade = {"Foreground": ["foregroundDeletion"], "Orphan": ["orphan"]}.get(str(policy), [])
        deferred = self.on_delete(rt, copy.deepcopy(old), grace)
        if not meta.get("finalizers") and not deferred and not cascade:
            return self._remove(self._key(rt, namespace, name), grace)
        if deferred:
            self.deferred.add(self._key(rt, namespace, name))
        new = copy.deepcopy(old)
        if cascade:
            new["metadata"]["finalizers"] = [*(meta.get("finalizers") or []), *cascade]
        # A real server defaults a Pod's grace to its terminationGracePeriodSeconds (30); we record 0.
        new["metadata"].update(deletionTimestamp=now_rfc3339(), deletionGracePeriodSeconds=grace or 0)
        return self._write(rt, new, old)

    def remove(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        """Finish a deletion an `on_delete` hook deferred (or force one); finalizers still block it."""
        key = self._key(rt, namespace, name)
        self.deferred.discard(key)
        obj = self.objects.get(key)
        if obj is None or obj["metadata"].get("finalizers"):
            return None
        return self._remove(key, None)

    def _write(self, rt: ResourceType, new: Obj, old: Obj | None) -> Obj:
        self.rv += 1
        new["metadata"]["resourceVersion"] = str(self.rv)
        key = self._key(rt, new["metadata"].get("namespace"), new["metadata"]["name"])
        self.objects[key] = self.by_type.setdefault(rt.key, {})[key] = new
        self._publish(Event(self.rv, rt.key, "ADDED" if old is None else "MODIFIED", copy.deepcopy(new), old))
        meta = new["metadata"]
        if old is not None and meta.get("deletionTimestamp") and not meta.get("finalizers") \
                and key not in self.deferred:
            self._remove(key, None)  # the last finalizer is gone: the pending deletion completes
        return copy.deepcopy(new)

    def _remove(self, key: ObjKey, grace: int | None) -> Obj:
        old = self.objects.pop(key)
        del self.by_type[key[:2]][key]
        self.deferred.discard(key)
        self.rv += 1
        final = copy.deepcopy(old)
        final["metadata"]["resourceVersion"] = str(self.rv)
        if grace is not None:
            final["metadata"]["deletionGracePeriodSeconds"] = grace
        self._publish(Event(self.rv, key[:2], "DELETED", final, old))
        return copy.deepcopy(final)

    def _publish(self, event: Event) -> None:
        if len(self.history) == self.history.maxlen:
            self.compacted = self.history[0].rv
        self.history.append(event)
        for watcher in self.watchers:
            if watcher.key == event.key:
                watcher.queue.put_nowait(event)
        for listener in self.listeners:
            listener(event)

    # ---- watches ----
    def watch(self, rt: ResourceType, namespace: str | None, name: str | None, selector: Selector,
              since: int | None, initial_bookmark: bool = False) -> Watcher:
        """Register a watcher with its backlog already queued: history after `since`, or ADDED for all."""
        if since is not None and since < self.compacted:
            raise api_error(410, "Expired", f"too old resource version: {since} ({self.compacted})")
        watcher = Watcher(rt.key, namespace if rt.namespaced else None, name, selector)
        if since is None:
            for _, obj in sorted(self.by_type.get(rt.key, {}).items()):
                watcher.queue.put_nowait(Event(int(obj["metadata"]["resourceVersion"]), rt.key, "ADDED",
                                               copy.deepcopy(obj)))
        else:
            for event in self.history:
                if event.rv > since and event.key == rt.key:
                    watcher.queue.put_nowait(event)
        if initial_bookmark:  # sendInitialEvents=true: a bookmark marks the end of the initial state
            meta = {"resourceVersion": str(self.rv), "annotations": {"k8s.io/initial-events-end": "true"}}
            bookmark = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": meta}
            watcher.queue.put_nowait(Event(self.rv, rt.key, "BOOKMARK", bookmark))
        self.watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)

    def close_watchers(self) -> None:
        for watcher in list(self.watchers):
            watcher.queue.put_nowait(None)
        self.watchers.clear()
