"""The sandbox kubelet's part for operator-image pods (helper and stress pods): run, watch, end, report.

Life of such a pod, as a kubelet would have it: Pending → (start delay) → its process started in a new
container cgroup → Running, container running and started; without a readiness probe Ready at once, with one (the
helper's `test -e READY_FILE`, see agentpods) not ready until the probe passes, probed every `periodSeconds` while
the process runs, and the container's `ready` and the Ready condition follow it → the process exits:
its termination message file is read into `state.terminated.message` with the exit code, the phase is
Succeeded (exit 0) or Failed (`restartPolicy: Never`), and what is left of its cgroup is killed and removed.
At `activeDeadlineSeconds` after the pod's start the phase becomes Failed/DeadlineExceeded at once, the
process gets SIGTERM and, after the grace period, SIGKILL. Deleting the pod (the operator's recovery) sends
SIGTERM, so the agent reverts and reports; the final status is written, and the object is removed
`FINAL_STATUS_S` later, as a kubelet's status sync and final delete follow each other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pathlib
import shutil
import tempfile
from collections.abc import Coroutine
from typing import Any

from chaos_sandbox.emulator.store import now_rfc3339
from chaos_sandbox.node import agentpods
from chaos_sandbox.node.agentpods import AgentProcess, Plan, Refused
from chaos_sandbox.node.podstatus import Terminated
from chaos_sandbox.node.slot import NodeSide, Slot

log = logging.getLogger(__name__)
FINAL_STATUS_S = 0.5  # the terminated status stays visible this long before a deleted pod's object goes
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


class AgentKubelet:
    def __init__(self, node: NodeSide) -> None:
        self.node = node
        self._own_dir: pathlib.Path | None = None

    def _files(self, uid: str) -> pathlib.Path:
        if self.node.config.log_dir is not None:
            return self.node.config.log_dir / "agents" / uid
        if self._own_dir is None:
            self._own_dir = pathlib.Path(tempfile.mkdtemp(prefix="chaos-sandbox-agents-"))
        return self._own_dir / uid

    def plan(self, pod: dict[str, Any]) -> Plan:
        """How to run this pod; Refused when the sandbox will not (nor can without root)."""
        if self.node.config.cgroups is None:
            raise Refused("SandboxNeedsRoot", "the sandbox runs operator-image pods only as root (own cgroups and "
                                              "network namespaces)")
        return agentpods.plan(pod, self._files(pod["metadata"]["uid"]))

    def start(self, pod: dict[str, Any], slot: Slot) -> Coroutine[Any, Any, None]:
        """The pod's run, to be spawned; Refused (nothing started) when the sandbox will not run it."""
        return self.run(slot, self.plan(pod))

    def close(self) -> None:
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    async def run(self, slot: Slot, plan: Plan) -> None:
        node, config = self.node, self.node.config
        loop = asyncio.get_running_loop()
        born = loop.time()
        slot.plan = plan
        try:
            await asyncio.sleep(config.start_delay)
            assert config.cgroups is not None
            slot.cgroup = config.cgroups.container(slot.uid)[0]  # limits not enforced: the agent runs as the node's
            slot.container = dataclasses.replace(slot.container, container_id=slot.cgroup.name)
            slot.proc = AgentProcess(plan, cgroup=slot.cgroup, log_path=config.log_path(slot), cpus=config.cpus)
            await slot.proc.start()
        except OSError as exc:
            log.warning("pod %s/%s could not start: %s", slot.namespace, slot.name, exc)
            node.status(slot, "Failed", False, reason="StartError", message=f"could not start: {exc}")
            await self.finish(slot)
            if not slot.deleting:
                node.forget(slot)
            return
        slot.started_at = now_rfc3339()
        node.status(slot, "Running", plan.probe is None)
        log.info("pod %s/%s: agent started (pid %s)", slot.namespace, slot.name, slot.proc.pid)
        try:
            if plan.deadline_s is None:
                await self.hold(slot, plan)
            else:
                async with asyncio.timeout(max(0.0, plan.deadline_s - (loop.time() - born))):
                    await self.hold(slot, plan)
        except TimeoutError:
            slot.deadline_exceeded = True
            node.status(slot, "Failed", False, reason="DeadlineExceeded", message=DEADLINE_MESSAGE, still_running=True)
            how = await slot.proc.stop(plan.grace_s)
            log.info("pod %s/%s: deadline exceeded, %s", slot.namespace, slot.name, how)
        await self.finish(slot)
        if not slot.deleting:
            node.forget(slot)

    async def hold(self, slot: Slot, plan: Plan) -> None:
        """Until the process ends; meanwhile the readiness probe, as a kubelet's prober runs it: every period, and
        `ready` changes after successThreshold passes or failureThreshold misses in a row."""
        assert isinstance(slot.proc, AgentProcess)
        probe = plan.probe
        if probe is None:
            await slot.proc.wait()
            return
        waiter = asyncio.ensure_future(slot.proc.wait())
        ready, streak = False, 0
        try:
            done, _ = await asyncio.wait({waiter}, timeout=probe.initial_delay_s)
            while not done:
                passed = probe.passes()
                streak = 0 if passed == ready else streak + 1
                if streak >= (probe.success_threshold if passed else probe.failure_threshold):
                    ready, streak = passed, 0
                    self.node.status(slot, "Running", ready)
                    log.info("pod %s/%s: %s", slot.namespace, slot.name, "ready" if ready else "not ready")
                done, _ = await asyncio.wait({waiter}, timeout=probe.period_s)
        finally:
            waiter.cancel()

    async def finish(self, slot: Slot) -> None:
        """Once the process is gone: the final status with its termination message, then its cgroup and files go.
        Idempotent, as a deletion may interrupt it and run it again."""
        if slot.finished or slot.plan is None:
            return
        proc = slot.proc if isinstance(slot.proc, AgentProcess) else None
        code = proc.exit_code if proc is not None else None
        if code is not None:
            message = agentpods.termination_message(slot.plan, code, self.node.config.log_path(slot))
            ended = Terminated(exit_code=code, reason="Completed" if code == 0 else "Error", message=message,
                               started_at=slot.started_at, finished_at=now_rfc3339())
            phase = "Failed" if slot.deadline_exceeded or code != 0 else "Succeeded"
            late = slot.deadline_exceeded
            self.node.status(slot, phase, False, terminated=ended, reason="DeadlineExceeded" if late else None,
                             message=DEADLINE_MESSAGE if late else None)
            log.info("pod %s/%s: agent exited with %d: %s", slot.namespace, slot.name, code, message.strip()[:300])
        await self.node.release(slot)
        shutil.rmtree(slot.plan.files, ignore_errors=True)
        slot.finished = True
