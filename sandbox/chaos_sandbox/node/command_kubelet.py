"""The sandbox kubelet's part for pods that run the operator image's command (`commandpods.py`): Job pods.

Pending → (start delay) → the process started (as root in its own container cgroup) → Running and Ready →
it exits: Succeeded (exit 0) or Failed, with `state.terminated` (exit code, reason Completed/Error). Containers
are never restarted (`restartPolicy: OnFailure` is treated as Never: the Job controller replaces a failed pod
instead). Deleting the pod is `node.py`'s (SIGTERM, the grace period, SIGKILL).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pathlib
import shutil
import tempfile
from collections.abc import Coroutine, Mapping
from typing import Any

from chaos_sandbox.emulator.store import now_rfc3339
from chaos_sandbox.node import commandpods
from chaos_sandbox.node.agentpods import Refused, exit_code_of
from chaos_sandbox.node.commandpods import CommandProcess, Plan
from chaos_sandbox.node.podstatus import Terminated
from chaos_sandbox.node.slot import NodeSide, Slot

log = logging.getLogger(__name__)


class CommandKubelet:
    def __init__(self, node: NodeSide, api_url: str | None) -> None:
        self.node, self.api_url = node, api_url
        self._own_dir: pathlib.Path | None = None

    def _files(self, uid: str) -> pathlib.Path:
        if self.node.config.log_dir is not None:
            return self.node.config.log_dir / "commands" / uid
        if self._own_dir is None:
            self._own_dir = pathlib.Path(tempfile.mkdtemp(prefix="chaos-sandbox-commands-"))
        return self._own_dir / uid

    def start(self, pod: dict[str, Any], slot: Slot,
              configmaps: Mapping[str, Mapping[str, Any]]) -> Coroutine[Any, Any, None]:
        """The pod's run, to be spawned; Refused (nothing started) when the sandbox will not run it."""
        if self.api_url is None:
            raise Refused("Unsupported", "this node was started without the API server's URL")
        return self.run(slot, commandpods.plan(pod, self._files(pod["metadata"]["uid"]), self.api_url, configmaps))

    def close(self) -> None:
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    async def run(self, slot: Slot, plan: Plan) -> None:
        node, config = self.node, self.node.config
        try:
            await asyncio.sleep(config.start_delay)
            if config.cgroups is not None:
                slot.cgroup = config.cgroups.container(slot.uid)[0]  # limits are not enforced
                slot.container = dataclasses.replace(slot.container, container_id=slot.cgroup.name)
            slot.proc = proc = CommandProcess(plan, cgroup=slot.cgroup, log_path=config.log_path(slot),
                                              cpus=config.cpus)
            await proc.start()
        except OSError as exc:
            log.warning("pod %s/%s could not start: %s", slot.namespace, slot.name, exc)
            node.status(slot, "Failed", False, reason="StartError", message=f"could not start: {exc}")
            await self._end(slot, plan)
            return
        slot.started_at = now_rfc3339()
        node.status(slot, "Running", True)
        log.info("pod %s/%s: %s started (pid %s)", slot.namespace, slot.name, plan.argv[0], proc.pid)
        try:
            code = exit_code_of(await proc.wait())
        except asyncio.CancelledError:  # deleted: node.py stops the process; the pod's files go with it
            shutil.rmtree(plan.files, ignore_errors=True)
            raise
        if slot.deleting:
            return  # being deleted: node.py stops and removes it
        ended = Terminated(exit_code=code, reason="Completed" if code == 0 else "Error", started_at=slot.started_at,
                           finished_at=now_rfc3339())
        node.status(slot, "Succeeded" if code == 0 else "Failed", False, terminated=ended)
        log.info("pod %s/%s: exited with %d", slot.namespace, slot.name, code)
        await self._end(slot, plan)

    async def _end(self, slot: Slot, plan: Plan) -> None:
        await self.node.release(slot)
        shutil.rmtree(plan.files, ignore_errors=True)
        if not slot.deleting:
            self.node.forget(slot)
