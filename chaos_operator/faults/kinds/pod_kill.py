"""PodKill: delete the selected pods; the workload is expected to replace them."""

from __future__ import annotations

from typing import Any

from chaos_operator.faults.base import FaultContext, FaultError, HelperWatch
from chaos_operator.models.spec import PodKillFault
from chaos_operator.models.status import Injection
from chaos_operator.targeting.pods import pod_info


class PodKill:
    kind = "PodKill"
    instant = True

    def _fault(self, ctx: FaultContext) -> PodKillFault:
        fault = ctx.spec.fault
        if not isinstance(fault, PodKillFault):
            raise FaultError(f"the experiment's fault is {fault.kind}, not {self.kind}")
        return fault

    async def apply(self, ctx: FaultContext, record: Injection) -> dict[str, Any]:
        grace = self._fault(ctx).grace_period_seconds
        try:
            # The uid precondition: a replacement that reused the name (StatefulSet) is never killed.
            deleted = await ctx.kube.delete_pod(ctx.namespace, record.target, record.uid, grace)
        except Exception as exc:
            raise FaultError(f"could not delete pod {record.target}: {exc}") from exc
        if not deleted:  # no kill, no fault: the record must not say Injected (the run cannot pass on it)
            raise FaultError(f"pod {record.target} was already gone or replaced; nothing deleted")
        return {"message": f"pod deleted with grace period {grace}s"}

    async def verify(self, ctx: FaultContext, record: Injection) -> bool:
        pods = [pod_info(obj) for obj in await ctx.kube.list_pods(ctx.namespace, ctx.label_selector)]
        ready = [p for p in pods if p.ready and not p.terminating]
        return len(ready) >= ctx.ready_before

    async def recover(self, ctx: FaultContext, record: Injection) -> None:
        # A deleted pod cannot be undeleted; recovery is the workload's job, measured by verify().
        return None

    def repeat_interval(self, ctx: FaultContext) -> float | None:
        interval = self._fault(ctx).interval
        return float(interval) if interval is not None else None

    def helpers(self) -> HelperWatch | None:
        return None  # no helper pod: nothing can be lost


FAULT = PodKill()
