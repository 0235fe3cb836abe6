"""The sandbox kubelet's part for demo pods (image `chaos-operator/demo-app`): a demo_app process per pod.

Pending → (start delay) → its own network namespace when root, and a container cgroup → process started →
Running, not Ready → Ready once the process answers HTTP on its readiness path (a periodic probe afterwards).
A process that exits on its own marks the pod Failed (its ReplicaSet replaces it). Deletion is `node.py`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pathlib
from collections.abc import Coroutine
from typing import Any

from chaos_sandbox.demo_app import validate_knobs
from chaos_sandbox.emulator.store import now_rfc3339
from chaos_sandbox.node import limits
from chaos_sandbox.node.agentpods import Refused
from chaos_sandbox.node.controllers import PORT_ANNOTATION
from chaos_sandbox.node.podnet import NetError, RouteRefused, check_route
from chaos_sandbox.node.podprocess import PodProcess, http_status
from chaos_sandbox.node.podstatus import Container
from chaos_sandbox.node.slot import NodeSide, Slot

log = logging.getLogger(__name__)
PROBE_EVERY_S = 0.05  # until a pod is first Ready
READY_PERIOD_S = 0.5  # afterwards, as a periodic readiness probe
FAILURE_THRESHOLD = 3


class DemoKubelet:
    def __init__(self, node: NodeSide) -> None:
        self.node = node

    def start(self, pod: dict[str, Any], slot: Slot) -> Coroutine[Any, Any, None]:
        """The pod's run, to be spawned; Refused when its args are not demo_app knobs."""
        container = pod["spec"]["containers"][0]
        try:
            knobs = validate_knobs([str(a) for a in container.get("args") or []])
            pod_limits = limits.of_pod(pod)
        except ValueError as exc:
            raise Refused("InvalidArgs", f"demo_app args: {exc}") from None
        port = int(((container.get("ports") or [{}])[0]).get("containerPort", 8080))
        path = str(((container.get("readinessProbe") or {}).get("httpGet") or {}).get("path", "/ready"))
        return self.run(slot, knobs, port, path, pod_limits)

    async def run(self, slot: Slot, knobs: list[str], port: int, probe_path: str,
                  pod_limits: limits.Limits | None = None) -> None:
        node, config = self.node, self.node.config
        loop = asyncio.get_running_loop()
        born = loop.time()
        try:
            await asyncio.sleep(config.start_delay)
            if config.net is not None:
                slot.net = config.net.allocate()
                await config.net.setup(slot.net)
                node.add_route(slot)
            enforced: list[pathlib.Path] = []
            if config.cgroups is not None:
                slot.cgroup, *enforced = config.cgroups.container(slot.uid, pod_limits)
                slot.container = Container(slot.container.name, slot.container.image, slot.cgroup.name)
            slot.proc = proc = PodProcess(knobs, pod=slot.name, token=config.token, net=slot.net, port=port,
                                          max_seconds=config.max_seconds, log_path=config.log_path(slot),
                                          cgroup=slot.cgroup, cpus=config.cpus, also=enforced)
            host, real_port = await proc.start()
            slot.started_at = now_rfc3339()
            node.annotate(slot, {PORT_ANNOTATION: str(real_port)})
            node.status(slot, "Running", False, ip=host)
            await check_route(host, node.veths())  # the kernel's word, right before the first dial
            await self._probe(slot, proc, host, real_port, probe_path, born)
            message = f"the process exited with code {proc.proc.returncode if proc.proc else '?'}"
        except (OSError, RuntimeError, TimeoutError, RouteRefused, NetError, ValueError) as exc:
            message = f"could not start: {exc}"
        if not slot.deleting:  # it died by itself: Failed, and the ReplicaSet replaces it
            log.warning("pod %s/%s failed: %s", slot.namespace, slot.name, message)
            node.status(slot, "Failed", False, reason="Error", message=message)
            if slot.proc is not None:
                await slot.proc.stop(0)  # e.g. started but never said where it listens
            await node.release(slot)
            node.forget(slot)

    async def _probe(self, slot: Slot, proc: PodProcess, host: str, port: int, path: str, born: float) -> None:
        """Readiness probe until the process exits: fast until first Ready, then every READY_PERIOD_S;
        FAILURE_THRESHOLD failures in a row make the pod NotReady (and take it out of its Endpoints)."""
        ready, failures, ever = False, 0, False
        while proc.running:
            ok = await http_status(host, port, path) == 200
            failures = 0 if ok else failures + 1
            if ok != ready and (ok or failures >= FAILURE_THRESHOLD):
                ready = ok
                self.node.status(slot, "Running", ready, ip=host)
                if ready and not ever:
                    log.info("pod %s/%s Ready at %s:%d, %.1fs after creation", slot.namespace, slot.name, host,
                             port, asyncio.get_running_loop().time() - born)
                elif not ready or ever:
                    log.info("pod %s/%s %s", slot.namespace, slot.name, "Ready again" if ready else "not Ready")
                ever = ever or ready
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(READY_PERIOD_S if ever else PROBE_EVERY_S):
                    await proc.wait()
