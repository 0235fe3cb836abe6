"""`ReplicaKeeper`: a tiny fake ReplicaSet controller and kubelet for tests, inside the API emulator.

It keeps N Pods matching some labels, replaces any that disappear (new name, new uid), and marks each
one Running and Ready `start_delay` seconds after it was created. It talks to the emulator's store
directly on the emulator's event loop, so every method must run there (`EmulatorThread.call`/`.run`).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Mapping
from typing import Any

from chaos_sandbox.emulator.patching import MERGE_PATCH
from chaos_sandbox.emulator.resources import ResourceType
from chaos_sandbox.emulator.selectors import Selector, parse_label_selector
from chaos_sandbox.emulator.server import Emulator
from chaos_sandbox.emulator.store import Obj, now_rfc3339


class ReplicaKeeper:
    def __init__(self, emulator: Emulator, *, namespace: str, labels: Mapping[str, str], replicas: int,
                 containers: list[dict[str, Any]], start_delay: float = 0.5, name: str = "app",
                 node_name: str = "sandbox-node", max_seconds: float = 600.0, max_pods: int = 1000) -> None:
        self.emulator = emulator
        self.namespace, self.labels, self.replicas = namespace, dict(labels), replicas
        self.containers, self.start_delay, self.node_name = containers, start_delay, node_name
        self.rs_name = f"{name}-rs"
        self.max_seconds, self.max_pods = max_seconds, max_pods  # bounds: a runaway keeper stops itself
        self.created = 0
        self._selector = Selector(parse_label_selector(",".join(f"{k}={v}" for k, v in self.labels.items())))
        self._born: dict[str, float] = {}  # uid -> loop time of creation, until it first becomes Ready
        self._ips = itertools.cycle(range(1, 255))
        self._task: asyncio.Task[None] | None = None
        self._rs_uid = ""

    @property
    def _pods_rt(self) -> ResourceType:
        return self.emulator.find("v1/pods")

    async def start(self) -> None:
        """Create the fake ReplicaSet and start keeping pods (call on the emulator's loop)."""
        if self._task is not None:
            raise RuntimeError("already started")
        rs_rt = self.emulator.find("apps/v1/replicasets")
        rs = self.emulator.store.create(rs_rt, self.namespace, {
            "metadata": {"name": self.rs_name, "labels": self.labels},
            "spec": {"replicas": self.replicas, "selector": {"matchLabels": self.labels},
                     "template": {"metadata": {"labels": self.labels}, "spec": {"containers": self.containers}}},
        })
        self._rs_uid = rs["metadata"]["uid"]
        self._task = asyncio.create_task(self._run(), name=f"replica-keeper-{self.rs_name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def pods(self) -> list[Obj]:
        """Our live pods (not being deleted), oldest first."""
        pods = self.emulator.store.list(self._pods_rt, self.namespace, self._selector)
        return [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")
                and any(ref.get("uid") == self._rs_uid for ref in pod["metadata"].get("ownerReferences", []))]

    def ready_count(self) -> int:
        return sum(1 for pod in self.pods() if _is_ready(pod))

    def set_ready(self, pod_name: str, ready: bool) -> None:
        """Flip a pod's Ready condition, as a failing or recovering readiness probe would."""
        status = "True" if ready else "False"
        self.emulator.store.patch(self._pods_rt, self.namespace, pod_name, {"status": {
            "conditions": [{"type": "Ready", "status": status, "lastTransitionTime": now_rfc3339()}],
            "containerStatuses": [_container_status(c, ready) for c in self.containers],
        }}, MERGE_PATCH, "status")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_seconds
        watcher = self.emulator.store.watch(self._pods_rt, self.namespace, None, self._selector, self.emulator.store.rv)
        try:
            while loop.time() < deadline:
                self._reconcile(loop.time())
                waits = [born + self.start_delay - loop.time() for born in self._born.values()]
                timeout = max(0.0, min(waits, default=deadline - loop.time()))
                try:  # wake on any change to our pods, or when the next pod is due to become Ready
                    async with asyncio.timeout(timeout):
                        await watcher.queue.get()
                except TimeoutError:
                    pass
                while not watcher.queue.empty():
                    watcher.queue.get_nowait()
        finally:
            self.emulator.store.unwatch(watcher)

    def _reconcile(self, now: float) -> None:
        pods = self.pods()
        live_uids = {pod["metadata"]["uid"] for pod in pods}
        for uid in set(self._born) - live_uids:
            del self._born[uid]
        for _ in range(self.replicas - len(pods)):
            if self.created >= self.max_pods:
                raise RuntimeError(f"replica keeper {self.rs_name} created {self.created} pods; giving up")
            pod = self.emulator.store.create(self._pods_rt, self.namespace, self._pod_body())
            self.created += 1
            self._born[pod["metadata"]["uid"]] = now
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if uid in self._born and now >= self._born[uid] + self.start_delay:
                del self._born[uid]  # Ready once; later readiness changes belong to set_ready()
                self._start(pod)

    def _pod_body(self) -> Obj:
        owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": self.rs_name, "uid": self._rs_uid,
                 "controller": True, "blockOwnerDeletion": True}
        return {"metadata": {"generateName": f"{self.rs_name}-", "labels": dict(self.labels),
                             "ownerReferences": [owner]},
                "spec": {"nodeName": self.node_name, "containers": copy.deepcopy(self.containers)}}

    def _start(self, pod: Obj) -> None:
        # 240.0.0.0/4 is reserved and never routed: the address is a placeholder nobody dials.
        self.emulator.store.patch(self._pods_rt, self.namespace, pod["metadata"]["name"], {"status": {
            "phase": "Running", "podIP": f"240.0.0.{next(self._ips)}", "startTime": now_rfc3339(),
        }}, MERGE_PATCH, "status")
        self.set_ready(pod["metadata"]["name"], True)


def _is_ready(pod: Obj) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _container_status(container: Mapping[str, Any], ready: bool) -> dict[str, Any]:
    # Every field the official client's models require, so clients can deserialize our pods.
    image = str(container.get("image", ""))
    return {"name": container.get("name", "main"), "image": image, "imageID": f"sandbox://{image}",
            "ready": ready, "started": True, "restartCount": 0, "state": {"running": {"startedAt": now_rfc3339()}}}
