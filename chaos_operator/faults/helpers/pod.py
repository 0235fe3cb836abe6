"""What the network and stress faults share: create a helper pod, wait until it holds the fault, delete it and
wait until it is gone, and run a revert-only helper when one was lost.

When is a fault "active"? Exactly when the helper pod is Ready. The agent cannot call the API (no token), so it
says so the Kubernetes way: it creates its ready file (``--ready-file``, on a small in-memory emptyDir) only once
its qdisc is in place (or stress-ng's workers run), and removes it as the first step of reverting; the pod's exec
readinessProbe tests that file every second, so ``containerStatuses[].ready`` is the fault's own word. Elapsed
Running time says nothing: an agent slow to start (a busy node, an emulated CPU) holds nothing yet. A helper that
terminates first failed, and its report says why; one that stops being ready while Injected is a lost helper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from chaos_operator.faults.base import FaultContext, FaultError, HelperWatch
from chaos_operator.faults.helpers import pod_spec
from chaos_operator.faults.helpers.pod_spec import Helper, PodNeeds, Role
from chaos_operator.faults.helpers.report import HOPELESS_WAITING, HelperView, ended_cleanly, failure_text, view
from chaos_operator.models.base import ApiModel
from chaos_operator.models.status import Injection
from chaos_operator.targeting.pods import pod_info

ACTIVE_TIMEOUT_S = 90.0  # bound on image pull + start + apply
GONE_TIMEOUT_S = 20.0  # bound on SIGTERM -> revert -> report -> removal (the pod's grace period is 15 s)
REVERT_TIMEOUT_S = 60.0  # bound on a whole revert-only helper run
POLL_S = 0.25

M = TypeVar("M", bound=ApiModel)  # the fault's spec model


@dataclass(frozen=True)
class Run:
    """One agent run on one target: what a fault module needs to say what its helper pod runs."""

    target_uid: str
    chaos_s: float
    role: Role = "fault"
    owner: str | None = None  # the experiment's UID: the agent's marker that keeps experiments apart
    destinations: Sequence[str] = ()  # resolved CIDRs of a scoped network fault


class HelperPodFault(Generic[M]):
    """Base of the faults carried by a helper pod, generic in the fault's spec model. A subclass (one module per
    fault) sets `kind`, `model` (that spec model), `family`, `needs_revert`, and builds its pod's needs in
    `needs()`."""

    kind = ""
    model: type[M]
    family = ""
    instant = False
    # Whether a lost helper can leave its fault behind (a qdisc outlives its process; stress-ng does not).
    needs_revert = False

    def needs(self, fault: M, run: Run) -> PodNeeds:
        """The agent's arguments, the resources and the privileges of this fault's pod (pure)."""
        raise NotImplementedError

    def pod(self, helper: Helper, fault: M, run: Run) -> dict[str, Any]:
        return pod_spec.helper_pod(helper, self.needs(fault, run))

    async def destinations(self, ctx: FaultContext, fault: M) -> Sequence[str]:
        """Addresses the fault is scoped to, resolved when it is applied (network faults); none by default."""
        return ()

    def helpers(self) -> HelperWatch:
        return self

    # -- the Fault protocol ------------------------------------------------------------------------------

    async def apply(self, ctx: FaultContext, record: Injection) -> dict[str, Any]:
        helper, body = await self._helper(ctx, record, "fault")
        name = pod_spec.name_of(helper)
        await self._create(ctx, helper, body)
        try:
            await self._wait_active(ctx, name)
        except FaultError:
            await self._delete_and_wait(ctx, name)
            raise
        return {"helper_pod": name, "message": f"helper pod {name} on node {helper.node_name} holds the fault"}

    async def verify(self, ctx: FaultContext, record: Injection) -> bool:
        """True once nothing of ours is left: the helper is gone, or it ended and its report says so."""
        pod = await ctx.kube.get_pod(ctx.operator_namespace, record.helper_pod or self._name(ctx, record, "fault"))
        return pod is None or ended_cleanly(view(pod))

    async def recover(self, ctx: FaultContext, record: Injection) -> dict[str, Any] | None:
        """Delete the helper (SIGTERM: the agent reverts and reports) and wait until it is gone. Idempotent: the
        deterministic name finds a helper even when the record never learnt it (a crash between create and
        record). A helper seen ending without a clean report, or never seen ending at all, may have left its
        qdisc: a revert-only helper follows. Any revert-only helper of this target is removed too."""
        name = record.helper_pod or self._name(ctx, record, "fault")
        last = await self._delete_and_wait(ctx, name)
        await self._delete_and_wait(ctx, self._name(ctx, record, "revert"))
        if last is None or not last.terminated:
            # Vanished (force-deleted, its node lost) or gone before its report could be read: whether the agent
            # reverted is not known, so a network fault gets the revert-only helper a lost one gets. The record
            # says Recovered only once that helper reports nothing of ours is left (else FaultError: Failed).
            seen = f"no helper pod {name} was left" if last is None else f"helper pod {name} deleted"
            if not self.needs_revert:
                return {"message": seen}
            return {"message": f"{seen}; {await self.revert_lost(ctx, record)}"}
        if ended_cleanly(last) or not self.needs_revert:
            return {"message": f"helper pod {name} deleted; {failure_text(last)}"}
        done = await self.revert_lost(ctx, record)  # raises FaultError when that fails too
        return {"message": f"helper pod {name}: {failure_text(last)}; {done}"}

    def repeat_interval(self, ctx: FaultContext) -> float | None:
        return None  # held for the whole window

    # -- lost helpers (used by engine/lost_helpers.py) -------------------------------------------------------

    async def helper_lost(self, ctx: FaultContext, record: Injection) -> tuple[str, bool] | None:
        """None while the helper of an Injected record holds the fault (it is Ready); else (why, clean), clean when
        its report says nothing of ours is left. A helper being deleted is not lost yet: SIGTERM makes it revert
        and report. A running helper no longer Ready does not hold the fault (its agent is reverting, or its
        probe failed): lost, and not known to be clean."""
        name = record.helper_pod or self._name(ctx, record, "fault")
        pod = await ctx.kube.get_pod(ctx.operator_namespace, name)
        if pod is None:
            return f"helper pod {name} disappeared", False
        v = view(pod)
        if v.terminated:
            return f"helper pod {name} ended early: {failure_text(v)}", ended_cleanly(v)
        if not v.ready and not v.deleting:
            return f"helper pod {name} is no longer ready: its agent does not hold the fault", False
        return None

    async def revert_lost(self, ctx: FaultContext, record: Injection) -> str:
        """Undo what a lost helper may have left: remove what is left of it, then (network) run a revert-only helper
        on the target's node and wait for its report; a stress pod leaves nothing. Returns what happened; raises
        FaultError when the revert did not happen."""
        await self._delete_and_wait(ctx, record.helper_pod or self._name(ctx, record, "fault"))  # if still there
        if not self.needs_revert:
            return "nothing to revert: the stress workers ended with their pod"
        try:
            helper, body = await self._helper(ctx, record, "revert")
        except FaultError as exc:
            return f"nothing to revert: {exc}"  # the target, and its network namespace, are gone
        name = pod_spec.name_of(helper)
        await self._delete_and_wait(ctx, name)  # a revert helper left by an earlier attempt
        await self._create(ctx, helper, body)
        try:
            final = await self._wait_ended(ctx, name)
        finally:
            await self._delete_and_wait(ctx, name)
        if final is not None and ended_cleanly(final, revert=True):
            return f"revert-only helper {name}: {failure_text(final)}"
        raise FaultError(f"revert-only helper {name}: " + (failure_text(final) if final else "vanished"))

    # -- pods ------------------------------------------------------------------------------------------------

    def _name(self, ctx: FaultContext, record: Injection, role: Role) -> str:
        return pod_spec.helper_name(ctx.experiment, ctx.experiment_uid, record.uid, self.kind, role,
                                     family=self.family)

    async def _helper(self, ctx: FaultContext, record: Injection, role: Role) -> tuple[Helper, dict[str, Any]]:
        """The helper of this target and its pod manifest (resolving a scoped fault's destinations now)."""
        found = await ctx.kube.get_pod(ctx.namespace, record.target)
        target = None if found is None else pod_info(found)
        if target is None or target.uid != record.uid:
            raise FaultError(f"target pod {record.target} is gone")
        node = target.node_name
        if not node:
            raise FaultError(f"target pod {record.target} is not on a node yet")
        fault = ctx.spec.fault
        if not isinstance(fault, self.model):
            raise FaultError(f"the experiment's fault is {fault.kind}, not {self.kind}")
        helper = Helper(experiment=ctx.experiment, experiment_uid=ctx.experiment_uid,
                        namespace=ctx.operator_namespace, experiment_namespace=ctx.namespace, target_uid=record.uid,
                        node_name=str(node), image=ctx.image, kind=self.kind, family=self.family,
                        chaos_s=float(ctx.spec.phases.chaos), role=role)
        destinations = await self.destinations(ctx, fault) if role == "fault" else ()
        run = Run(record.uid, helper.chaos_s, role, ctx.experiment_uid or None, destinations)
        try:
            return helper, self.pod(helper, fault, run)
        except ValueError as exc:
            raise FaultError(str(exc)) from exc

    async def _create(self, ctx: FaultContext, helper: Helper, body: dict[str, Any]) -> None:
        name = pod_spec.name_of(helper)
        if helper.role == "fault" and ctx.max_helpers_per_node is not None:  # a revert is never held back
            await _room_on_node(ctx, helper.node_name, name, ctx.max_helpers_per_node)
        try:
            created = await ctx.kube.create_pod(ctx.operator_namespace, body)
        except Exception as exc:
            raise FaultError(f"could not create helper pod {name}: {exc}") from exc
        if created is not None:
            return
        # 409: a pod of this deterministic name exists. Ours from an earlier attempt: adopt it.
        existing = await ctx.kube.get_pod(ctx.operator_namespace, name)
        if existing is not None and pod_info(existing).labels.get(pod_spec.EXPERIMENT_UID_LABEL) != ctx.experiment_uid:
            raise FaultError(f"pod {name} exists and does not belong to this experiment")

    async def _wait_active(self, ctx: FaultContext, name: str) -> None:
        deadline = ctx.clock.monotonic() + min(ACTIVE_TIMEOUT_S, float(ctx.spec.phases.chaos))
        while True:
            now = ctx.clock.monotonic()
            pod = await ctx.kube.get_pod(ctx.operator_namespace, name)
            if pod is None:
                raise FaultError(f"helper pod {name} vanished before it held the fault")
            v = view(pod)
            if v.terminated or v.deleting:
                raise FaultError(f"helper pod {name}: {failure_text(v)}")
            if v.waiting_reason in HOPELESS_WAITING:
                raise FaultError(f"helper pod {name}: {failure_text(v)}")
            if v.ready:  # the agent's ready file exists: its fault is in place
                return
            if now >= deadline:
                state = "running, never ready" if v.running else v.waiting_reason
                raise FaultError(f"helper pod {name} did not hold the fault in time (phase {v.phase}"
                                 f"{', ' + state if state else ''})")
            await ctx.clock.sleep(POLL_S)

    async def _wait_ended(self, ctx: FaultContext, name: str) -> HelperView | None:
        """Wait (bounded) for a run-to-completion helper to end; its last view, or None if it vanished."""
        deadline = ctx.clock.monotonic() + REVERT_TIMEOUT_S
        last: HelperView | None = None
        while ctx.clock.monotonic() < deadline:
            pod = await ctx.kube.get_pod(ctx.operator_namespace, name)
            if pod is None:
                return last
            last = view(pod)
            if last.terminated or last.waiting_reason in HOPELESS_WAITING:
                return last
            await ctx.clock.sleep(POLL_S)
        raise FaultError(f"helper pod {name} did not finish within {REVERT_TIMEOUT_S:g}s")

    async def _delete_and_wait(self, ctx: FaultContext, name: str) -> HelperView | None:
        """Delete a helper and wait (bounded) until it is gone; the last view of it seen, None if there was none."""
        pod = await ctx.kube.get_pod(ctx.operator_namespace, name)
        if pod is None:
            return None
        last = view(pod)
        await ctx.kube.delete_pod_by_name(ctx.operator_namespace, name, None)
        deadline = ctx.clock.monotonic() + GONE_TIMEOUT_S
        while ctx.clock.monotonic() < deadline:
            pod = await ctx.kube.get_pod(ctx.operator_namespace, name)
            if pod is None:
                return last
            last = view(pod)
            await ctx.clock.sleep(POLL_S)
        raise FaultError(f"helper pod {name} was not gone {GONE_TIMEOUT_S:g}s after its deletion")


async def _room_on_node(ctx: FaultContext, node: str, name: str, cap: int) -> None:
    """Refuse a helper past the cap on this operator's helper and stress pods on one node."""
    pods = [pod_info(p) for p in await ctx.kube.list_pods(ctx.operator_namespace, pod_spec.HELPER_SELECTOR)]
    busy = [p for p in pods if p.node_name == node and p.name != name and not p.terminating
            and p.phase not in ("Succeeded", "Failed")]
    if len(busy) >= cap:
        raise FaultError(f"node {node} already runs {len(busy)} helper pods of this operator, the cap "
                         f"(--max-helpers-per-node {cap}): not injected")
