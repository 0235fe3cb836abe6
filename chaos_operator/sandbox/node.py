"""The sandbox's one node: runs the control loops, and a kubelet that backs demo Pods with real processes.

A Pod is ours when it is bound to this node and its single container's image is `DEMO_IMAGE`; its
`args` are demo_app knobs (validated; anything else leaves the pod Pending with the reason). Life of a
pod: Pending → (start delay) → its own network namespace when root → process started → Running, not
Ready → Ready once the process answers HTTP on its readiness path. Deleting it (the `on_delete` hook
defers removal) takes it out of every Service proxy at once, sends SIGTERM, waits the grace period, sends
SIGKILL, resets leftover proxy connections, removes its network, and only then removes the object; the
ReplicaSet loop has meanwhile started a replacement. A process that exits on its own marks the pod Failed.
Everything runs on the emulator's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import pathlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from chaos_operator.sandbox import controllers as ctl
from chaos_operator.sandbox.demo_app import validate_knobs
from chaos_operator.sandbox.emulator_resources import ResourceType
from chaos_operator.sandbox.emulator_server import Emulator
from chaos_operator.sandbox.emulator_store import Event, Obj, now_rfc3339
from chaos_operator.sandbox.kubelet import PodProcess, http_status
from chaos_operator.sandbox.podnet import NetError, PodNet, RouteRefused, RunNet, check_route
from chaos_operator.sandbox.proxy import Backend, SandboxResolver, ServiceKey, ServiceProxy

log = logging.getLogger(__name__)
DEMO_IMAGE = "chaos-operator/demo-app"
WATCHED = {("", "pods"), ("", "services"), ("apps", "deployments"), ("apps", "replicasets")}
RESYNC_S = 2.0
PROBE_EVERY_S = 0.05  # until a pod is first Ready
READY_PERIOD_S = 0.5  # afterwards, as a periodic readiness probe
FAILURE_THRESHOLD = 3
MAX_PROCESSES = 40  # pod processes at once; further pods wait in Pending
PROXY_ANNOTATION = ctl.ANNOTATION + "proxy"


@dataclass(eq=False)
class Slot:
    namespace: str
    name: str
    uid: str
    task: asyncio.Task[None] | None = None
    net: PodNet | None = None
    proc: PodProcess | None = None
    started_at: str = ""
    deleting: bool = False


class Node:
    def __init__(self, emulator: Emulator, *, token: str, net: RunNet | None = None, start_delay: float = 1.0,
                 max_seconds: float = 3600.0, log_dir: pathlib.Path | None = None, name: str = "sandbox-node",
                 stop_grace_s: float = 1.0) -> None:
        self.api = ctl.Api(emulator)
        self.token, self.net, self.name = token, net, name
        self.start_delay, self.max_seconds, self.log_dir = start_delay, max_seconds, log_dir
        self.stop_grace_s = stop_grace_s
        self.resolver = SandboxResolver()
        self.proxies: dict[ServiceKey, ServiceProxy] = {}
        self.slots: dict[str, Slot] = {}
        self.routes: dict[str, str] = {}  # pod IP -> our veth, verified with `ip route get`; the dial guard
        self._rejected: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    # ---- lifecycle ----
    async def start(self) -> None:
        self.api.store.on_delete = self._on_delete
        self.api.store.listeners.append(self._on_event)
        if not any(n["metadata"]["name"] == self.name for n in self.api.list("v1/nodes")):
            self.api.create("v1/nodes", None, {"metadata": {"name": self.name, "labels": {
                "kubernetes.io/hostname": self.name}}})
        self.api.patch("v1/nodes", None, self.name, {"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "SandboxReady"}]}}, status=True)
        self._loop_task = asyncio.create_task(self._run(), name="sandbox-node")

    async def stop(self) -> None:
        """Stop the loops, then every pod (short grace), then the proxies. Pods stay in the store, gone."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._on_event in self.api.store.listeners:
            self.api.store.listeners.remove(self._on_event)
        self.api.store.on_delete = lambda rt, obj, grace: False
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(self._teardown(slot, self.stop_grace_s) for slot in list(self.slots.values())),
                             return_exceptions=True)
        for proxy in self.proxies.values():
            await proxy.close()
        self.proxies.clear()
        self.resolver.update({})

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _on_event(self, event: Event) -> None:
        if event.key in WATCHED:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                self.reconcile()
            except Exception:
                log.exception("sandbox reconcile failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RESYNC_S)

    def reconcile(self) -> None:
        ctl.reconcile_deployments(self.api)
        ctl.collect_garbage(self.api)
        ctl.reconcile_replicasets(self.api, self.name)
        self._kubelet()
        self._sync_proxies(ctl.reconcile_endpoints(self.api))

    # ---- kubelet ----
    def _kubelet(self) -> None:
        for pod in self.api.list("v1/pods"):
            uid, spec = pod["metadata"]["uid"], pod.get("spec") or {}
            containers = spec.get("containers") or []
            if (uid in self.slots or uid in self._rejected or ctl.terminating(pod) or spec.get("nodeName") != self.name
                    or (pod.get("status") or {}).get("phase") != "Pending" or len(containers) != 1
                    or not str(containers[0].get("image", "")).startswith(DEMO_IMAGE)):
                continue
            if len(self.slots) >= MAX_PROCESSES:
                break  # bounded: the rest stay Pending until others are gone
            container = containers[0]
            slot = Slot(pod["metadata"]["namespace"], pod["metadata"]["name"], uid)
            try:
                knobs = validate_knobs([str(a) for a in container.get("args") or []])
            except ValueError as exc:
                self._rejected.add(uid)
                self._status(slot, "Pending", False, reason="InvalidArgs", message=f"demo_app args: {exc}")
                continue
            port = int(((container.get("ports") or [{}])[0]).get("containerPort", 8080))
            path = str(((container.get("readinessProbe") or {}).get("httpGet") or {}).get("path", "/ready"))
            self.slots[uid] = slot
            slot.task = self._spawn(self._run_pod(slot, knobs, port, path))

    async def _run_pod(self, slot: Slot, knobs: list[str], port: int, probe_path: str) -> None:
        loop = asyncio.get_running_loop()
        born = loop.time()
        try:
            await asyncio.sleep(self.start_delay)
            if self.net is not None:
                slot.net = self.net.allocate()
                await self.net.setup(slot.net)
                self.routes[slot.net.pod_ip] = slot.net.veth
            log_path = self.log_dir / f"{slot.namespace}_{slot.name}.log" if self.log_dir else None
            slot.proc = PodProcess(knobs, pod=slot.name, token=self.token, net=slot.net, port=port,
                                   max_seconds=self.max_seconds, log_path=log_path)
            host, real_port = await slot.proc.start()
            slot.started_at = now_rfc3339()
            self.api.patch("v1/pods", slot.namespace, slot.name,
                           {"metadata": {"annotations": {ctl.PORT_ANNOTATION: str(real_port)}}})
            self._status(slot, "Running", False, ip=host)
            await check_route(host, set(self.routes.values()))  # the kernel's word, right before the first dial
            await self._probe(slot, host, real_port, probe_path, born)
            message = f"the process exited with code {slot.proc.proc.returncode if slot.proc.proc else '?'}"
        except (OSError, RuntimeError, TimeoutError, RouteRefused, NetError, ValueError) as exc:
            message = f"could not start: {exc}"
        if not slot.deleting:  # it died by itself: Failed, and the ReplicaSet replaces it
            log.warning("pod %s/%s failed: %s", slot.namespace, slot.name, message)
            self._status(slot, "Failed", False, reason="Error", message=message)
            if slot.proc is not None:
                await slot.proc.stop(0)  # e.g. started but never said where it listens
            await self._release(slot)
            self.slots.pop(slot.uid, None)

    async def _probe(self, slot: Slot, host: str, port: int, path: str, born: float) -> None:
        """Readiness probe until the process exits: fast until first Ready, then every READY_PERIOD_S;
        FAILURE_THRESHOLD failures in a row make the pod NotReady (and take it out of its Endpoints)."""
        assert slot.proc is not None
        ready, failures, ever = False, 0, False
        while slot.proc.running:
            ok = await http_status(host, port, path) == 200
            failures = 0 if ok else failures + 1
            if ok != ready and (ok or failures >= FAILURE_THRESHOLD):
                ready = ok
                self._status(slot, "Running", ready, ip=host)
                if ready and not ever:
                    log.info("pod %s/%s Ready at %s:%d, %.1fs after creation", slot.namespace, slot.name, host,
                             port, asyncio.get_running_loop().time() - born)
                elif not ready or ever:
                    log.info("pod %s/%s %s", slot.namespace, slot.name, "Ready again" if ready else "not Ready")
                ever = ever or ready
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(slot.proc.wait(), READY_PERIOD_S if ever else PROBE_EVERY_S)

    def _status(self, slot: Slot, phase: str, ready: bool, *, ip: str | None = None, reason: str | None = None,
                message: str | None = None) -> None:
        flag = "True" if ready else "False"
        now = now_rfc3339()
        status: Obj = {"phase": phase, "conditions": [
            {"type": t, "status": s, "lastTransitionTime": now} for t, s in
            (("PodScheduled", "True"), ("Initialized", "True"), ("ContainersReady", flag), ("Ready", flag))]}
        if reason:
            status.update(reason=reason, message=message)
        if ip:
            status.update(podIP=ip, podIPs=[{"ip": ip}], hostIP="127.0.0.1", startTime=slot.started_at)
        state = {"running": {"startedAt": slot.started_at}} if phase == "Running" else \
            {"terminated": {"exitCode": 1, "reason": reason or "Error"}} if phase == "Failed" else \
            {"waiting": {"reason": reason or "ContainerCreating", "message": message or ""}}
        status["containerStatuses"] = [{"name": "app", "image": DEMO_IMAGE, "imageID": f"sandbox://{DEMO_IMAGE}",
                                        "ready": ready, "started": phase == "Running", "restartCount": 0,
                                        "state": state}]
        self.api.patch("v1/pods", slot.namespace, slot.name, {"status": status}, status=True)

    # ---- deletion ----
    def _on_delete(self, rtype: ResourceType, obj: Obj, grace: int | None) -> bool:
        slot = self.slots.get(obj["metadata"]["uid"]) if rtype.key == ("", "pods") else None
        if slot is None or slot.deleting:
            return False  # not ours (or already going): removed at once
        slot.deleting = True
        if slot.proc is not None and slot.proc.address is not None:  # like Endpoints dropping a terminating pod
            for proxy in self.proxies.values():
                proxy.set_backends([b for b in proxy.backends if b != slot.proc.address])
        if grace is None:
            grace = int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        self._spawn(self._terminate(slot, float(grace)))
        return True

    async def _terminate(self, slot: Slot, grace: float) -> None:
        started = asyncio.get_running_loop().time()
        try:
            how = await self._teardown(slot, grace)
        except Exception:  # stop() retries whatever is left of the slot
            log.exception("pod %s/%s: stopping it failed", slot.namespace, slot.name)
            return
        log.info("pod %s/%s deleted: %s, gone after %.1fs", slot.namespace, slot.name, how,
                 asyncio.get_running_loop().time() - started)

    async def _teardown(self, slot: Slot, grace: float) -> str:
        slot.deleting = True
        if slot.task is not None:
            slot.task.cancel()
            await asyncio.gather(slot.task, return_exceptions=True)
        how = await slot.proc.stop(grace) if slot.proc is not None else "never started"
        await self._release(slot)
        self.slots.pop(slot.uid, None)
        self.api.store.remove(self.api.emulator.find("v1/pods"), slot.namespace, slot.name)
        return how

    async def _release(self, slot: Slot) -> None:
        """Reset proxy connections to the pod (RST while its route still exists), then remove its network."""
        if slot.proc is not None and slot.proc.address is not None:
            for proxy in self.proxies.values():
                proxy.drop_backend(slot.proc.address)
        if slot.net is not None and self.net is not None:
            self.routes.pop(slot.net.pod_ip, None)
            await self.net.remove_pod(slot.net)
            slot.net = None

    # ---- kube-proxy ----
    async def dial(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect to a pod, but only to loopback or an address verified to route through our veth."""
        if host not in self.routes and not ipaddress.ip_address(host).is_loopback:
            raise RouteRefused(f"{host} is not a verified pod address of this sandbox")
        reader, writer = await asyncio.open_connection(host, port)
        return reader, writer

    def _sync_proxies(self, backends: dict[tuple[str, str], list[Backend]]) -> None:
        wanted: dict[ServiceKey, list[Backend]] = {}
        services = self.api.list("v1/services")
        for svc in services:
            ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            for port in (svc.get("spec") or {}).get("ports") or []:
                wanted[(ns, name, int(port.get("port", 0)))] = backends.get((ns, name), [])
        for key in set(self.proxies) - set(wanted):
            self._spawn(self.proxies.pop(key).close())
        for key, addresses in wanted.items():
            if key not in self.proxies:
                self.proxies[key] = ServiceProxy(key, self.dial)
                self._spawn(self.proxies[key].start())
            self.proxies[key].set_backends(addresses)
        self.resolver.update({key: proxy.url for key, proxy in self.proxies.items()})
        for svc in services:  # shows the "ClusterIP" in `kubectl get svc -o yaml`
            ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            text = ",".join(f"{port}={':'.join(map(str, p.address))}"
                            for (pns, pname, port), p in sorted(self.proxies.items()) if (pns, pname) == (ns, name))
            if (ctl.meta(svc).get("annotations") or {}).get(PROXY_ANNOTATION) != text:
                self.api.patch("v1/services", ns, name, {"metadata": {"annotations": {PROXY_ANNOTATION: text}}})

