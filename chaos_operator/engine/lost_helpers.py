"""Helper pods that lost their place: a helper gone while its record says Injected (evicted, SIGKILLed, deleted
by hand), and helpers whose experiment is finished or gone when the operator starts.

- During the chaos window, `HelperTender` polls the helper of every Injected record. A lost helper may have
  left its qdisc in the target's network namespace (it outlives the process that added it), so a revert-only
  helper runs for that target; the record then says Recovered (or Failed when the revert failed), and why.
- On operator start, `sweep` deletes every helper pod (label app.kubernetes.io/managed-by=chaos-operator, in the
  operator's namespace: helpers live nowhere else) whose experiment (named by the helper's labels and annotation)
  is gone, was replaced (another uid), or has finished. SIGTERM makes the agent revert.
  Helpers of running experiments are left to their daemon, which recovers them by their deterministic names.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from chaos_operator.engine.recorder import Recorder
from chaos_operator.faults.base import (
    EXPERIMENT_ANNOTATION,
    EXPERIMENT_LABEL,
    EXPERIMENT_NS_LABEL,
    EXPERIMENT_UID_LABEL,
    HELPER_SELECTOR,
    ROLE_LABEL,
    FaultContext,
    FaultError,
    HelperWatch,
)
from chaos_operator.models.status import TERMINAL_PHASES, RecordState, clip
from chaos_operator.ports import KubeApi
from chaos_operator.targeting.pods import PodInfo, pod_info

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 120.0  # a revert in progress is let finish (it is bounded itself) before the tender is cancelled


class HelperTender:
    """Watches the helpers of one chaos window (runs as a task next to it)."""

    def __init__(self, recorder: Recorder, kind: str, fault: HelperWatch, ctx: FaultContext, poll_s: float,
                 on_lost: Callable[[str], None] | None = None) -> None:
        self.recorder, self.kind, self.fault, self.ctx, self.poll_s = recorder, kind, fault, ctx, poll_s
        self.on_lost = on_lost  # told of each target found lost, before its revert: the fault no longer holds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop after the check in progress (a revert is never cut in half), bounded."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await self.ctx.clock.bounded(asyncio.shield(self._task), STOP_TIMEOUT_S)
        except TimeoutError:
            self._task.cancel()
        except Exception as exc:
            log.warning("helper tender ended with an error: %s", exc)
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.check_once()
            except Exception as exc:  # an API hiccup: try again next round
                log.warning("%s: checking helper pods failed: %s", self.ctx.experiment, exc)
            await self.ctx.clock.wait_for(self._stopping, self.poll_s)

    async def check_once(self) -> int:
        """Handle every Injected record whose helper was lost; returns how many were."""
        handled = 0
        for index, record in enumerate(list(self.recorder.status.injections)):
            if self._stopping.is_set():
                break
            if record.state != RecordState.INJECTED:  # a RecoveryFailed one waits for the window's recovery
                continue
            lost = await self.fault.helper_lost(self.ctx, record)
            if lost is None:
                continue
            why, clean = lost
            handled += 1
            if self.on_lost is not None:
                self.on_lost(record.target)
            await self.recorder.event("HelperLost", f"{record.target}: {why}", warning=not clean)
            await self.recorder.mark_reverting([index])
            try:
                if clean:
                    done = (await self.fault.recover(self.ctx, record) or {}).get("message", "cleaned up")
                else:
                    done = await self.fault.revert_lost(self.ctx, record)
            except FaultError as exc:  # the window's recovery retries it
                await self.recorder.mark_recovery_failed(index, f"{why}; {exc}")
                await self.recorder.event("RecoveryFailed", f"{record.target}: {exc}", warning=True)
                continue
            await self.recorder.mark_recovered(index, clip(f"{why}; {done}"))
            await self.recorder.event("Recovered", f"{self.kind} on {record.target} ended early: {done}")
        return handled


def _owner(pod: PodInfo) -> tuple[str, str, str] | None:
    """(namespace, name, uid) of the helper's experiment, from its labels and annotation (the full name: a label
    value is cut at 63 characters). An owner reference cannot cross namespaces, so it is not one."""
    namespace, uid = pod.labels.get(EXPERIMENT_NS_LABEL), pod.labels.get(EXPERIMENT_UID_LABEL)
    name = pod.annotations.get(EXPERIMENT_ANNOTATION) or pod.labels.get(EXPERIMENT_LABEL)
    if not (namespace and name and uid):
        return None
    return namespace, name, uid


def _reverting(pod: PodInfo) -> bool:
    """A revert-only helper still at work."""
    return pod.labels.get(ROLE_LABEL) == "revert" and pod.phase not in ("Succeeded", "Failed")


def _finished(experiment: dict[str, Any] | None, uid: str) -> bool:
    if experiment is None or (experiment.get("metadata") or {}).get("uid") != uid:
        return True  # gone, or a new experiment that reuses the name
    return (experiment.get("status") or {}).get("phase") in TERMINAL_PHASES


async def sweep(kube: KubeApi, operator_namespace: str) -> list[str]:
    """Delete helper pods whose experiment is finished or gone; returns ``namespace/name`` of each deleted.

    Never raises: a failure is logged and the next pod is tried (startup must not hang on a sweep).
    """
    deleted: list[str] = []
    try:
        pods = await kube.list_pods(operator_namespace, HELPER_SELECTOR)
    except Exception as exc:
        log.warning("helper sweep: could not list helper pods: %s", exc)
        return deleted
    experiments: dict[tuple[str, str], dict[str, Any] | None] = {}
    for pod in map(pod_info, pods):
        name, owner = pod.name, _owner(pod)
        if owner is None or pod.terminating:
            continue
        if _reverting(pod):
            continue  # a revert in progress is let finish; its deadline bounds it
        try:
            key = owner[:2]
            if key not in experiments:
                experiments[key] = await kube.get_experiment(*key)
            if not _finished(experiments[key], owner[2]):
                continue
            if await kube.delete_pod_by_name(operator_namespace, name, None):
                deleted.append(f"{operator_namespace}/{name}")
        except Exception as exc:
            log.warning("helper sweep: %s/%s: %s", operator_namespace, name, exc)
    if deleted:
        log.info("helper sweep deleted %d helper pod(s) of finished or deleted experiments: %s",
                 len(deleted), ", ".join(deleted))
    return deleted


async def delete_helpers_of(kube: KubeApi, operator_namespace: str, experiment_uid: str) -> list[str]:
    """Delete every helper pod of this experiment (by its UID label); returns the names. A revert in progress is
    let finish. SIGTERM makes each agent revert its fault before it exits."""
    deleted = []
    query = f"{HELPER_SELECTOR},{EXPERIMENT_UID_LABEL}={experiment_uid}"
    for pod in map(pod_info, await kube.list_pods(operator_namespace, query)):
        owner = _owner(pod)
        if owner is None or owner[2] != experiment_uid or pod.terminating:
            continue
        if _reverting(pod):
            continue
        if await kube.delete_pod_by_name(operator_namespace, pod.name, None):
            deleted.append(pod.name)
    return deleted
