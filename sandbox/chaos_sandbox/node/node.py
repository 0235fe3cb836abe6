"""The sandbox's one node: runs the control loops, and a kubelet that backs Pods with real processes.

A Pod is ours when it is bound to this node and its single container's image is `DEMO_IMAGE` (run by
`demo_kubelet.py`) or the operator's (`OPERATOR_IMAGE`: helper and stress pods, run by `agent_kubelet.py`);
a pod the sandbox will not run stays Pending with the reason. As root every pod process lives in its own
cgroup named with its pod UID (`cgroups.py`), removed when the process is gone, and runs on the node's CPUs
(`cpus`). Deleting a pod (the `on_delete` hook defers removal) takes it out of every Service proxy at once,
sends SIGTERM, waits the grace period, sends SIGKILL, resets leftover proxy connections, removes its cgroup
and network, and only then removes the object; the ReplicaSet loop has meanwhile started a replacement.
Everything runs on the emulator's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import pathlib
from collections.abc import Coroutine
from typing import Any

from chaos_sandbox.emulator.resources import ResourceType
from chaos_sandbox.emulator.server import Emulator
from chaos_sandbox.emulator.store import Event, Obj, now_rfc3339
from chaos_sandbox.node import commandpods, gc, jobcontrol
from chaos_sandbox.node import controllers as ctl
from chaos_sandbox.node.agent_kubelet import FINAL_STATUS_S, AgentKubelet
from chaos_sandbox.node.agentpods import AGENT_MODULE, OPERATOR_IMAGE, Refused
from chaos_sandbox.node.cgroups import RunCgroups
from chaos_sandbox.node.clock import Clock
from chaos_sandbox.node.command_kubelet import CommandKubelet
from chaos_sandbox.node.demo_kubelet import DemoKubelet
from chaos_sandbox.node.incluster import ApiEndpoint
from chaos_sandbox.node.podnet import RouteRefused, RunNet
from chaos_sandbox.node.podprocess import PodProcess
from chaos_sandbox.node.podstatus import Container, Terminated, pod_status
from chaos_sandbox.node.proxy import Backend, SandboxResolver, ServiceKey, ServiceProxy, hosts_entries
from chaos_sandbox.node.slot import PodConfig, Slot

log = logging.getLogger(__name__)
DEMO_IMAGE = "chaos-operator/demo-app"
WATCHED = {("", "pods"), ("", "services"), ("apps", "deployments"), ("apps", "replicasets"), ("batch", "jobs"),
           ("batch", "cronjobs")}
RESYNC_S = 2.0
MAX_PROCESSES = 40  # pod processes at once; further pods wait in Pending
PROXY_ANNOTATION = ctl.ANNOTATION + "proxy"


class Node:
    """Implements `NodeSide` (slot.py) for its two kubelets."""

    def __init__(self, emulator: Emulator, *, token: str, net: RunNet | None = None, start_delay: float = 1.0,
                 max_seconds: float = 3600.0, log_dir: pathlib.Path | None = None, name: str = "sandbox-node",
                 stop_grace_s: float = 1.0, cgroups: RunCgroups | None = None,
                 cpus: frozenset[int] | None = None, api_url: str | None = None,
                 api_tls: ApiEndpoint | None = None) -> None:
        self.api = ctl.Api(emulator)
        self.clock = Clock()  # the Job and CronJob controllers' time (clock.py)
        self.name, self.net, self.cgroups, self.stop_grace_s = name, net, cgroups, stop_grace_s
        self._config = PodConfig(token=token, start_delay=start_delay, max_seconds=max_seconds, log_dir=log_dir,
                                 cgroups=cgroups, net=net, cpus=cpus if cgroups is not None else None)
        self.agents, self.demo = AgentKubelet(self), DemoKubelet(self)
        self.commands = CommandKubelet(self, api_url, api_tls)
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
        self.agents.close()
        self.commands.close()

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
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that arrives as the
            # event is set, and this loop then never ends (Node.stop waited on it forever)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RESYNC_S):
                    await self._wake.wait()

    def reconcile(self) -> None:
        ctl.reconcile_deployments(self.api)
        gc.collect_garbage(self.api.emulator)
        ctl.reconcile_replicasets(self.api, self.name)
        jobcontrol.reconcile_cronjobs(self.api, self.clock)
        jobcontrol.reconcile_jobs(self.api, self.name, self.clock)
        self._kubelet()
        self._sync_proxies(ctl.reconcile_endpoints(self.api))

    # ---- kubelet ----
    def _kubelet(self) -> None:
        for pod in self.api.list("v1/pods"):
            uid, spec = pod["metadata"]["uid"], pod.get("spec") or {}
            containers = spec.get("containers") or []
            image = str((containers or [{}])[0].get("image", ""))
            if (uid in self.slots or uid in self._rejected or ctl.terminating(pod) or spec.get("nodeName") != self.name
                    or (pod.get("status") or {}).get("phase") != "Pending" or len(containers) != 1
                    or not (image.startswith(DEMO_IMAGE) or commandpods.is_operator_image(image))):
                continue
            if len(self.slots) >= MAX_PROCESSES:
                break  # bounded: the rest stay Pending until others are gone
            slot = Slot(pod["metadata"]["namespace"], pod["metadata"]["name"], uid,
                        Container(str(containers[0].get("name") or "app"), image))
            try:
                run = self._start(pod, slot, image)
            except Refused as exc:
                self._rejected.add(uid)
                log.warning("pod %s/%s stays Pending: %s", slot.namespace, slot.name, exc)
                self.status(slot, "Pending", False, reason=exc.reason, message=str(exc))
                continue
            self.slots[uid] = slot
            slot.task = self._spawn(run)

    def _start(self, pod: Obj, slot: Slot, image: str) -> Coroutine[Any, Any, None]:
        if image.startswith(DEMO_IMAGE):
            return self.demo.start(pod, slot, {s["metadata"]["name"]: s for s in
                                               self.api.list("v1/secrets", slot.namespace)})
        command = ((pod["spec"]["containers"][0]).get("command") or [])[1:]
        if image == OPERATOR_IMAGE and command == ["-m", AGENT_MODULE]:  # helper and stress pods
            return self.agents.start(pod, slot)
        configmaps = {c["metadata"]["name"]: c for c in self.api.list("v1/configmaps", slot.namespace)}
        # what a cluster mounts into the pod: a token for its ServiceAccount, which RBAC (when enforced) judges
        token = self.api.emulator.auth.issue_token(slot.namespace, pod["spec"].get("serviceAccountName") or "default")
        secrets = {s["metadata"]["name"]: s for s in self.api.list("v1/secrets", slot.namespace)}  # the kubelet's
        return self.commands.start(pod, slot, configmaps, token, secrets)

    def advance_clock(self, seconds: float) -> None:
        """Time passes for the Job and CronJob controllers (clock.py); they look at once."""
        self.clock.advance(seconds)
        self._wake.set()

    # ---- NodeSide: what the kubelets use ----
    @property
    def config(self) -> PodConfig:
        return self._config

    def annotate(self, slot: Slot, annotations: dict[str, str]) -> None:
        self.api.patch("v1/pods", slot.namespace, slot.name, {"metadata": {"annotations": annotations}})

    def add_route(self, slot: Slot) -> None:
        assert slot.net is not None
        self.routes[slot.net.pod_ip] = slot.net.veth

    def veths(self) -> set[str]:
        return set(self.routes.values())

    def forget(self, slot: Slot) -> None:
        self.slots.pop(slot.uid, None)

    def status(self, slot: Slot, phase: str, ready: bool, *, ip: str | None = None, reason: str | None = None,
               message: str | None = None, terminated: Terminated | None = None, still_running: bool = False) -> None:
        status = pod_status(slot.container, phase, ready, now_rfc3339(), started_at=slot.started_at,
                            start_time=slot.start_time if slot.plan is not None else "", ip=ip, reason=reason,
                            message=message, terminated=terminated, still_running=still_running,
                            restarts=slot.restarts)
        self.api.patch("v1/pods", slot.namespace, slot.name, {"status": status}, status=True)

    # ---- deletion ----
    def _on_delete(self, rtype: ResourceType, obj: Obj, grace: int | None) -> bool:
        slot = self.slots.get(obj["metadata"]["uid"]) if rtype.key == ("", "pods") else None
        if slot is None or slot.deleting:
            return False  # not ours (or already going): removed at once
        slot.deleting = True
        if isinstance(slot.proc, PodProcess) and slot.proc.address is not None:  # Endpoints drop a terminating pod
            for proxy in self.proxies.values():
                proxy.set_backends([b for b in proxy.backends if b != slot.proc.address])
        if grace is None:
            grace = int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        self._spawn(self._terminate(slot, float(grace)))
        return True

    async def _terminate(self, slot: Slot, grace: float) -> None:
        started = asyncio.get_running_loop().time()
        try:
            how = await self._teardown(slot, grace, linger=True)
        except Exception:  # stop() retries whatever is left of the slot
            log.exception("pod %s/%s: stopping it failed", slot.namespace, slot.name)
            return
        log.info("pod %s/%s deleted: %s, gone after %.1fs", slot.namespace, slot.name, how,
                 asyncio.get_running_loop().time() - started)

    async def _teardown(self, slot: Slot, grace: float, linger: bool = False) -> str:
        slot.deleting = True
        if slot.task is not None:
            slot.task.cancel()
            await asyncio.gather(slot.task, return_exceptions=True)
        how = await slot.proc.stop(grace) if slot.proc is not None else "never started"
        if slot.plan is not None and not slot.finished:  # an agent's report, as the kubelet's last status
            await self.agents.finish(slot)
            if linger and slot.proc is not None:
                await asyncio.sleep(FINAL_STATUS_S)
        await self.release(slot)
        self.slots.pop(slot.uid, None)
        self.api.store.remove(self.api.emulator.find("v1/pods"), slot.namespace, slot.name)
        return how

    async def release(self, slot: Slot) -> None:
        """Reset proxy connections to the pod (RST while its route still exists), kill what is left in its cgroup
        and remove that, then remove its network. Idempotent."""
        if isinstance(slot.proc, PodProcess) and slot.proc.address is not None:
            for proxy in self.proxies.values():
                proxy.drop_backend(slot.proc.address)
        if slot.cgroup is not None and self.cgroups is not None:
            if not await self.cgroups.remove_pod(slot.cgroup):
                log.warning("pod %s/%s: its cgroup %s could not be emptied", slot.namespace, slot.name, slot.cgroup)
            slot.cgroup = None
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
                self.proxies[key] = ServiceProxy(key, self.dial, salt=self._config.token)
                self._spawn(self.proxies[key].start())
            self.proxies[key].set_backends(addresses)
        self.resolver.update({key: proxy.url for key, proxy in self.proxies.items()})
        self.commands.set_services(hosts_entries(self.proxies))
        for svc in services:  # shows the "ClusterIP" in `kubectl get svc -o yaml`
            ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            text = ",".join(f"{port}={':'.join(map(str, p.address))}"
                            for (pns, pname, port), p in sorted(self.proxies.items()) if (pns, pname) == (ns, name))
            if (ctl.meta(svc).get("annotations") or {}).get(PROXY_ANNOTATION) != text:
                self.api.patch("v1/services", ns, name, {"metadata": {"annotations": {PROXY_ANNOTATION: text}}})

