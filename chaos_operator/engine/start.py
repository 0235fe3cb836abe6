"""Start (or resume) one experiment's run, within the cap on experiments running at once (engine/slots.py)."""

from __future__ import annotations

from chaos_operator.engine import lifecycle
from chaos_operator.engine.deps import Control, Deps
from chaos_operator.engine.recorder import Recorder
from chaos_operator.engine.runner import CONTROL_POLL_S, Runner
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import Phase


async def run_experiment(deps: Deps, spec: ExperimentSpec, recorder: Recorder, control: Control) -> None:
    slots, uid = deps.slots, recorder.ref.uid
    fresh = lifecycle.resume(recorder.status, deps.adopt_load is not None).action is lifecycle.Resume.START
    try:
        if not fresh:
            slots.force(uid)  # it may hold a live fault: never made to wait
        elif not slots.take(uid):
            message = f"queued: {slots.describe()} (--max-running-experiments)"
            await recorder.queued(message)
            await recorder.event("Queued", message)
            if not await slots.wait(uid, deps.clock, lambda: control.abort_requested() or control.stopping(),
                                    CONTROL_POLL_S):
                if control.abort_requested():
                    await recorder.finish(Phase.ABORTED, None, "Aborted",
                                          "spec.abort was set while queued; nothing was touched")
                return  # stopping: the next daemon (or the finalizer) picks it up, still Pending
        await Runner(deps, spec, recorder, control).run()
    finally:
        slots.release(uid)
