"""Recovery of every record that may still hold a fault, outside a running chaos window: a daemon resuming a run
left mid-chaos, the runner's unexpected-error path, the deletion handler and fail-closed."""

from __future__ import annotations

import asyncio

from chaos_operator.engine import lifecycle
from chaos_operator.engine.chaos_window import ChaosWindow
from chaos_operator.engine.deps import Deps
from chaos_operator.engine.recorder import Recorder
from chaos_operator.faults.base import FaultContext
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.ports import ExperimentRef
from chaos_operator.targeting.selector import to_query


def fault_context(deps: Deps, spec: ExperimentSpec, ref: ExperimentRef, ready_before: int) -> FaultContext:
    return FaultContext(kube=deps.kube, clock=deps.clock, namespace=ref.namespace, experiment=ref.name, spec=spec,
                        label_selector=to_query(spec.target.selector), ready_before=ready_before,
                        operator_namespace=deps.operator_namespace, experiment_uid=ref.uid, image=deps.image,
                        max_helpers_per_node=deps.max_helpers_per_node)


async def recover_records(deps: Deps, spec: ExperimentSpec, recorder: Recorder) -> None:
    """Recover every record of ``recorder``'s status that may be live (each retried, bounded); a no-op when none is."""
    if not lifecycle.pending_recovery(recorder.status):
        return
    ctx = fault_context(deps, spec, recorder.ref, recorder.status.ready_before or 0)
    # Recovery is never cut short, so the window's stop event is never set.
    await ChaosWindow(recorder, deps.fault_for(spec.fault.kind), ctx, asyncio.Event(), deps.poll_s,
                      deps.recover_retry_s).recover_all()
