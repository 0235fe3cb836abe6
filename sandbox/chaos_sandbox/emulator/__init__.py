"""An in-process Kubernetes API server for tests and the sandbox: `Emulator` served by `EmulatorThread`.

The server runs on 127.0.0.1 with an ephemeral port in its own thread and event loop, so the code under
test (kopf, the official client, kubectl) talks to it over real HTTP from any thread.

Custom objects written over HTTP are validated against their CRD (schema, CEL rules, pruning, defaults) unless
the emulator is made with `Emulator(validate=False)`; in-process writes (`EmulatorThread.create`, the store)
are never checked, so a test can store what an older CRD would have accepted.

Authentication and authorization (`emulator/authz.py`): `Emulator(authorization="RBAC")` authorizes every request
against the stored RBAC objects and evaluates ValidatingAdmissionPolicies for the requesting user, as a cluster
does; the default `"AlwaysAllow"` serves everyone (docs/sandbox.md says which harness uses which).

Calls served, for RBAC checks: every resource request is recorded as an `ApiCall(verb, group, resource,
subresource, namespace, user, client)`, with RBAC's verbs (get, list, watch, create, update, patch, delete,
deletecollection); `namespace` is "" for cluster-scoped objects and cluster-wide requests (a Namespace object
is in its own namespace, as RBAC sees it); `user` is the request's bearer token, "" without one; `client` the
program its User-Agent names: the operator's calls are those of "kopf" and "chaos-operator" (its own
Kubernetes client), so a test's own requests (kubectl, other Python clients) can be told apart. Discovery and
OpenAPI requests are not recorded (every identity may read them). Both records are sets of distinct calls, so
they stay small however long the emulator runs:

- `Emulator.calls -> frozenset[ApiCall]`: what one emulator served;
- `ALL_CALLS: set[ApiCall]`: what every emulator in this process served (read it at the end of a pytest
  session, e.g. in a session-scoped fixture's teardown or `pytest_sessionfinish`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import pathlib
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import aiohttp.web
import yaml
from kubernetes import client

from chaos_sandbox.emulator import stuck
from chaos_sandbox.emulator.http import ALL_CALLS, ApiCall
from chaos_sandbox.emulator.patching import MERGE_PATCH
from chaos_sandbox.emulator.replicas import ReplicaKeeper
from chaos_sandbox.emulator.resources import ApiError, ResourceType
from chaos_sandbox.emulator.selectors import Selector
from chaos_sandbox.emulator.server import Emulator
from chaos_sandbox.emulator.store import Obj
from chaos_sandbox.emulator.tls import make_serving_cert

__all__ = ["ALL_CALLS", "ApiCall", "Emulator", "EmulatorThread", "ReplicaKeeper", "ResourceType", "kube_client_config"]

T = TypeVar("T")
log = logging.getLogger(__name__)


def kube_client_config(url: str) -> client.Configuration:
    """An explicit client configuration for the emulator; the process-wide default is never read."""
    return client.Configuration(host=url)


class EmulatorThread:
    """Runs an `Emulator` on its own loop in a daemon thread; use as a context manager."""

    def __init__(self, emulator: Emulator | None = None, *, timeout: float = 10.0, tls: bool = False) -> None:
        self.emulator = emulator if emulator is not None else Emulator()
        self.timeout = timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        # tls: HTTPS as well, on its own port (tls.py), for pods that find the API server in-cluster
        self.serving_cert = make_serving_cert() if tls else None
        self.https_port = 0
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> EmulatorThread:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the emulator thread can be started only once")
        self._thread = threading.Thread(target=self._main, name="kube-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.timeout) or self._error is not None:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {self._error!r}")

    def stop(self) -> None:
        if self._thread is None:
            return
        if self.loop is not None and self._stopping is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(self.timeout)
        if self._thread.is_alive():
            raise RuntimeError("the emulator thread did not stop in time")

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start() instead of dying silently in the thread
            self._error = exc
        finally:
            self._ready.set()
            self._cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        server = aiohttp.web.Server(self.emulator, handler_cancellation=True)
        runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = int(runner.addresses[0][1])
            if self.serving_cert is not None:
                secure = aiohttp.web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.serving_cert.server_context())
                await secure.start()
                self.https_port = int(runner.addresses[1][1])
            self._ready.set()
            await self._stopping.wait()
            self.emulator.store.close_watchers()  # lets open watch streams end cleanly first
            await asyncio.sleep(0)
        finally:
            await runner.cleanup()

    @staticmethod
    def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
        """Cancel what tests or replica keepers left running, so nothing outlives the thread."""
        tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    # ---- thread-safe helpers for the test thread ----
    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the emulator's loop and wait for its result."""
        if self.loop is None or not self._ready.is_set():
            coro.close()
            raise RuntimeError("the emulator is not running")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout or self.timeout)
        except concurrent.futures.TimeoutError:
            log.error("a call into the emulator's loop overran %ss; the loop is at:\n%s", timeout or self.timeout,
                      stuck.describe(self.loop, self._thread))
            future.cancel()
            raise

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Call a plain function on the emulator's loop (store methods must run there)."""
        async def call() -> T:
            return fn(*args)
        return self.run(call())

    def rtype(self, name: str) -> ResourceType:
        return self.call(self.emulator.find, name)

    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        def fetch() -> Obj | None:
            try:
                return self.emulator.store.get(self.emulator.find(resource), namespace, name)
            except ApiError as exc:
                if exc.status == 404:
                    return None
                raise
        return self.call(fetch)

    def list(self, resource: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[Obj]:
        selector = Selector.parse(label_selector, field_selector)
        return self.call(lambda: self.emulator.store.list(self.emulator.find(resource), namespace, selector))

    def create(self, resource: str, body: Mapping[str, Any], namespace: str | None = None) -> Obj:
        return self.call(lambda: self.emulator.store.create(self.emulator.find(resource), namespace, dict(body)))

    def patch(self, resource: str, namespace: str | None, name: str, patch: Mapping[str, Any],
              subresource: str | None = None) -> Obj:
        return self.call(lambda: self.emulator.store.patch(self.emulator.find(resource), namespace, name,
                                                           dict(patch), MERGE_PATCH, subresource))

    def delete(self, resource: str, namespace: str | None, name: str, grace: int | None = None) -> Obj:
        return self.call(lambda: self.emulator.store.delete(self.emulator.find(resource), namespace, name,
                                                            {}, grace))

    def register_crd(self, crd: Mapping[str, Any]) -> Obj:
        return self.call(self.emulator.register_crd, crd)

    def replicas(self, **kwargs: Any) -> ReplicaKeeper:
        """Start a `ReplicaKeeper` on the emulator's loop; query it with `call(keeper.ready_count)`."""
        keeper = ReplicaKeeper(self.emulator, **kwargs)
        self.run(keeper.start())
        return keeper

    def write_kubeconfig(self, path: str | pathlib.Path, namespace: str = "default", token: str | None = None,
                         user: str | None = None, groups: Sequence[str] = ()) -> pathlib.Path:
        """A kubeconfig. Without credentials its caller is the sandbox's administrator (the emulator listens on
        loopback only; see `emulator/authz.py`). `token`: the official Python client sends it as a bearer token
        (one from `emulator.auth`, or with RBAC off any string, recorded as the caller). kubectl sends no token
        over plain HTTP, so for kubectl `user` (and `groups`) are sent as impersonation headers instead."""
        credentials: dict[str, Any] = {"token": token} if token else {}
        if user:
            credentials.update({"as": user, **({"as-groups": list(groups)} if groups else {})})
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator", "user": credentials}],
            "contexts": [{"name": "emulator",
                          "context": {"cluster": "emulator", "user": "emulator", "namespace": namespace}}],
            "current-context": "emulator",
        }
        target = pathlib.Path(path)
        target.write_text(yaml.safe_dump(config))
        return target
