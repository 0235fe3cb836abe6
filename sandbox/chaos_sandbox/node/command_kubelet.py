"""The sandbox kubelet's part for pods that run the operator image's command (`commandpods.py`): Job pods and
the chart's operator Deployment.

Pending → (start delay) → the process started (as root in its own container cgroup) → Running, Ready per its
`httpGet` readinessProbe (`incluster.py`; Ready at once without one) → it exits: Succeeded (exit 0) or Failed,
with `state.terminated` (exit code, reason Completed/Error). With `restartPolicy: Always` (a Deployment's pods) the
container is started again instead, after a back-off doubling from 1 s to 10 s (a kubelet's goes from 10 s to
5 min), `restartCount` counting, the container waiting in CrashLoopBackOff meanwhile. `OnFailure` is treated as
Never: the Job controller replaces a failed pod instead. Deleting the pod is `node.py`'s (SIGTERM, the grace
period, SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import pathlib
import shutil
import tempfile
from collections.abc import Coroutine, Mapping
from typing import Any

from chaos_sandbox.emulator.store import now_rfc3339
from chaos_sandbox.node import commandpods, incluster
from chaos_sandbox.node.agentpods import Refused
from chaos_sandbox.node.commandpods import CommandProcess, Plan
from chaos_sandbox.node.incluster import ApiEndpoint, Probe
from chaos_sandbox.node.podprocess import exit_code_of, http_status, log_tail
from chaos_sandbox.node.podstatus import Terminated
from chaos_sandbox.node.slot import NodeSide, Slot

log = logging.getLogger(__name__)
BACK_OFF_MAX_S = 10.0
PROBE_FIRST_S = 0.5  # until first Ready, probe this often: a pod's readiness is seen soon after it is there


class CommandKubelet:
    def __init__(self, node: NodeSide, api_url: str | None, api: ApiEndpoint | None = None) -> None:
        self.node, self.api_url, self.api = node, api_url, api
        self._own_dir: pathlib.Path | None = None
        self._services = ""  # /etc/hosts lines of the Services (node.py keeps them current)
        self._hosts: set[pathlib.Path] = set()  # the hosts files of running in-cluster pods
        self._ips = itertools.count()

    def set_services(self, entries: str) -> None:
        """The Services changed: rewrite each in-cluster pod's hosts file in place (its bind mount keeps the inode)."""
        if entries != self._services:
            self._services = entries
            for path in list(self._hosts):
                with contextlib.suppress(OSError):
                    path.write_text(incluster.hosts_file(entries))

    def _files(self, uid: str) -> pathlib.Path:
        if self.node.config.log_dir is not None:
            return self.node.config.log_dir / "commands" / uid
        if self._own_dir is None:
            self._own_dir = pathlib.Path(tempfile.mkdtemp(prefix="chaos-sandbox-commands-"))
        return self._own_dir / uid

    def start(self, pod: dict[str, Any], slot: Slot, configmaps: Mapping[str, Mapping[str, Any]],
              token: str, secrets: Mapping[str, Mapping[str, Any]] | None = None) -> Coroutine[Any, Any, None]:
        """The pod's run, to be spawned; Refused (nothing started) when the sandbox will not run it. `token`: the
        emulator's for the pod's ServiceAccount."""
        if self.api_url is None:
            raise Refused("Unsupported", "this node was started without the API server's URL")
        files = self._files(pod["metadata"]["uid"])
        pod_ip = self._next_ip() if commandpods.wants_ip(pod) else None
        return self.run(slot, commandpods.plan(pod, files, self.api_url, configmaps, token, self.api, secrets, pod_ip))

    def _next_ip(self) -> str:
        """A loopback address of the pod's own (127.50.0.1 on): below the Services' 127.100-199 (proxy.py)."""
        n = next(self._ips) % (254 * 256)
        return f"127.50.{n // 254}.{1 + n % 254}"

    def close(self) -> None:
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    async def run(self, slot: Slot, plan: Plan) -> None:
        try:
            await asyncio.sleep(self.node.config.start_delay)
            while True:
                code = await self._once(slot, plan)
                if code is None or slot.deleting:
                    return  # could not start (ended), or being deleted: node.py stops and removes it
                if plan.restart_policy != "Always":
                    break
                slot.restarts += 1
                back_off = min(BACK_OFF_MAX_S, 2.0 ** (slot.restarts - 1))
                self.node.status(slot, "Running", False, reason="CrashLoopBackOff",
                                 message=f"back-off {back_off:g}s restarting failed container (exit code {code})")
                await asyncio.sleep(back_off)
        except asyncio.CancelledError:  # deleted: node.py stops the process; the pod's files go with it
            self._hosts.discard(plan.files / "hosts")
            shutil.rmtree(plan.files, ignore_errors=True)
            raise
        message = log_tail(self.node.config.log_path(slot)) if code != 0 and plan.fallback_to_logs else ""
        ended = Terminated(exit_code=code, reason="Completed" if code == 0 else "Error", message=message,
                           started_at=slot.started_at, finished_at=now_rfc3339())
        self.node.status(slot, "Succeeded" if code == 0 else "Failed", False, terminated=ended)
        await self._end(slot, plan)

    async def _once(self, slot: Slot, plan: Plan) -> int | None:
        """Start the container's process and wait for its exit code; None when it could not start (the pod ended)."""
        node, config = self.node, self.node.config
        try:
            if config.cgroups is not None and slot.cgroup is None:
                slot.cgroup = config.cgroups.container(slot.uid)[0]  # limits are not enforced
                slot.container = dataclasses.replace(slot.container, container_id=slot.cgroup.name)
            slot.proc = proc = CommandProcess(plan, cgroup=slot.cgroup, log_path=config.log_path(slot),
                                              cpus=config.cpus)
            if plan.in_cluster:  # its /etc/hosts names the Services
                plan.files.mkdir(mode=0o700, parents=True, exist_ok=True)
                (plan.files / "hosts").write_text(incluster.hosts_file(self._services))
                self._hosts.add(plan.files / "hosts")
            await proc.start()
        except OSError as exc:
            log.warning("pod %s/%s could not start: %s", slot.namespace, slot.name, exc)
            node.status(slot, "Failed", False, reason="StartError", message=f"could not start: {exc}")
            await self._end(slot, plan)
            return None
        slot.started_at = now_rfc3339()
        node.status(slot, "Running", plan.readiness is None, ip=plan.pod_ip)
        log.info("pod %s/%s: %s started (pid %s)", slot.namespace, slot.name, plan.argv[0], proc.pid)
        probing = asyncio.create_task(self._probe(slot, plan.readiness, plan.pod_ip)) if plan.readiness else None
        try:
            code = exit_code_of(await proc.wait())
        finally:
            if probing is not None:
                probing.cancel()
                await asyncio.gather(probing, return_exceptions=True)
        log.info("pod %s/%s: exited with %d", slot.namespace, slot.name, code)
        return code

    async def _probe(self, slot: Slot, probe: Probe, ip: str | None) -> None:
        """Ready after one success, not Ready after `failure_threshold` failures in a row; written on change."""
        ready, failures = False, 0
        await asyncio.sleep(probe.initial_delay_s)
        while True:
            status = await http_status(probe.host, probe.port, probe.path, probe.timeout_s)
            ok = status is not None and 200 <= status < 400
            failures = 0 if ok else failures + 1
            if ok != ready and (ok or failures >= probe.failure_threshold) and not slot.deleting:
                ready = ok
                self.node.status(slot, "Running", ready, ip=ip)
            await asyncio.sleep(min(probe.period_s, PROBE_FIRST_S) if not ready else probe.period_s)

    async def _end(self, slot: Slot, plan: Plan) -> None:
        self._hosts.discard(plan.files / "hosts")
        await self.node.release(slot)
        shutil.rmtree(plan.files, ignore_errors=True)
        if not slot.deleting:
            self.node.forget(slot)
