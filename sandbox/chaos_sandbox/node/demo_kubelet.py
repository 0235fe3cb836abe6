"""The sandbox kubelet's part for demo pods (image `chaos-operator/demo-app`): a demo_app process per pod.

Pending → (start delay) → its own network namespace when root, and a container cgroup → process started →
Running, not Ready → Ready once the process answers HTTP on its readiness path (a periodic probe afterwards;
over TLS, unverified as a kubelet's, when the probe's scheme is HTTPS). `--tls-secret NAME` is resolved here as a
Secret volume would be: the Secret's `tls.crt` and `tls.key` go to files the app reads at start (removed once it
listens), passed as `--tls-cert`/`--tls-key`; a missing Secret keeps the pod Pending, as a kubelet does.
A process that exits on its own marks the pod Failed (its ReplicaSet replaces it). Deletion is `node.py`'s.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import pathlib
import shutil
import tempfile
from collections.abc import Coroutine, Mapping
from typing import Any

from chaos_sandbox.demo_app import knob_parser, validate_knobs
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

    def start(self, pod: dict[str, Any], slot: Slot,
              secrets: Mapping[str, Mapping[str, Any]] | None = None) -> Coroutine[Any, Any, None]:
        """The pod's run, to be spawned; Refused when its args are not demo_app knobs or its TLS Secret is not
        there. `secrets`: the pod's namespace's, by name."""
        container = pod["spec"]["containers"][0]
        try:
            knobs = validate_knobs([str(a) for a in container.get("args") or []])
            pod_limits = limits.of_pod(pod)
        except ValueError as exc:
            raise Refused("InvalidArgs", f"demo_app args: {exc}") from None
        tls = tls_files(knob_parser().parse_args(knobs).tls_secret, secrets or {})
        port = int(((container.get("ports") or [{}])[0]).get("containerPort", 8080))
        probe = (container.get("readinessProbe") or {}).get("httpGet") or {}
        return self.run(slot, knobs, port, str(probe.get("path", "/ready")), pod_limits, tls,
                        https_probe=str(probe.get("scheme", "HTTP")).upper() == "HTTPS")

    async def run(self, slot: Slot, knobs: list[str], port: int, probe_path: str,
                  pod_limits: limits.Limits | None = None, tls: dict[str, bytes] | None = None,
                  https_probe: bool = False) -> None:
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
            files = pathlib.Path(tempfile.mkdtemp(prefix="chaos-sandbox-tls-")) if tls else None
            try:
                if files is not None and tls is not None:
                    for name, data in tls.items():
                        (files / name).write_bytes(data)
                    knobs = [*knobs, "--tls-cert", str(files / "tls.crt"), "--tls-key", str(files / "tls.key")]
                slot.proc = proc = PodProcess(knobs, pod=slot.name, token=config.token, net=slot.net, port=port,
                                              max_seconds=config.max_seconds, log_path=config.log_path(slot),
                                              cgroup=slot.cgroup, cpus=config.cpus, also=enforced)
                host, real_port = await proc.start()
            finally:  # read at start: the key does not stay on the node's disk
                if files is not None:
                    shutil.rmtree(files, ignore_errors=True)
            slot.started_at = now_rfc3339()
            node.annotate(slot, {PORT_ANNOTATION: str(real_port)})
            node.status(slot, "Running", False, ip=host)
            await check_route(host, node.veths())  # the kernel's word, right before the first dial
            await self._probe(slot, proc, host, real_port, probe_path, born, https_probe)
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

    async def _probe(self, slot: Slot, proc: PodProcess, host: str, port: int, path: str, born: float,
                     tls: bool) -> None:
        """Readiness probe until the process exits: fast until first Ready, then every READY_PERIOD_S;
        FAILURE_THRESHOLD failures in a row make the pod NotReady (and take it out of its Endpoints)."""
        ready, failures, ever = False, 0, False
        while proc.running:
            ok = await http_status(host, port, path, tls=tls) == 200
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


def tls_files(secret_name: str | None, secrets: Mapping[str, Mapping[str, Any]]) -> dict[str, bytes] | None:
    """The `tls.crt` and `tls.key` of Secret `secret_name`, decoded; Refused (the pod stays Pending) when the
    Secret or a key is missing."""
    if secret_name is None:
        return None
    data = (secrets.get(secret_name) or {}).get("data") or {}
    try:
        files = {key: base64.b64decode(data[key], validate=True) for key in ("tls.crt", "tls.key")}
    except (KeyError, binascii.Error):
        raise Refused("CreateContainerConfigError",
                      f'secret "{secret_name}" not found or without tls.crt and tls.key') from None
    return files
