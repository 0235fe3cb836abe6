"""The chaos window's later rounds: a fault that repeats (a kill every interval) injects into a new draw of
targets until the window ends or is stopped."""

from __future__ import annotations

import asyncio
import math

from chaos_operator.engine.chaos_window import ChaosWindow
from chaos_operator.engine.deps import Deps
from chaos_operator.engine.recorder import Recorder
from chaos_operator.engine.targets import resolve
from chaos_operator.models.spec import ExperimentSpec


async def repeat(deps: Deps, spec: ExperimentSpec, recorder: Recorder, window: ChaosWindow, started: float,
                 chaos_end: asyncio.Event, seed: int, picked_up: bool = False) -> None:
    """Rounds until the window's end; ``picked_up``: a window an earlier daemon opened goes on with the round due
    next, never with the rounds missed while no operator ran."""
    interval = window.fault.repeat_interval(window.ctx)
    end = started + spec.phases.chaos
    round_no = 1
    if picked_up and interval is not None:
        round_no = max(1, math.floor((deps.clock.monotonic() - started) / interval) + 1)
    while True:
        now = deps.clock.monotonic()
        wake = end if interval is None else min(end, started + round_no * interval)
        if now >= end:
            return
        if await deps.clock.wait_for(chaos_end, max(0.0, wake - now)):
            return  # stopped or halted
        if interval is None or deps.clock.monotonic() >= end:
            continue
        try:
            found = await resolve(deps.kube, recorder.ref.namespace, spec.target, seed + round_no,
                                  deps.operator_pods)
        except Exception as exc:  # no eligible pod right now (all replacing): skip this round
            await recorder.event("RoundSkipped", f"round {round_no + 1}: {exc}")
        else:
            await recorder.add_targets(found.targets)
            await window.inject_round(found.targets)
        round_no += 1
