"""The engine's load port. The ports faults share with the engine (KubeApi, Clock, ExperimentRef, StatusConflict)
are in chaos_operator/ports.py and re-exported here for the engine modules that import them from here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.models.status import PhaseResult
from chaos_operator.ports import Clock, ExperimentRef, KubeApi, StatusConflict

__all__ = ["Clock", "ExperimentRef", "KubeApi", "LoadDriver", "LoadResult", "StatusConflict"]


@dataclass(frozen=True)
class LoadResult:
    """One phase of load: the summary for status and the per-second samples for recovery analysis."""

    result: PhaseResult
    started_mono: float  # Clock.monotonic() when the phase's first request was due (the adapter converts)
    samples: Sequence[SecondSample] = field(default_factory=tuple)  # offsets from started_mono


class LoadDriver(Protocol):
    async def run_phase(self, duration_s: float, stop: Any, split: Any = None) -> LoadResult:
        """Drive the experiment's load for duration_s or until ``stop`` (an asyncio.Event) is set. When ``split``
        (an asyncio.Event) is set during the phase, the result covers only the requests intended from then on,
        and result.ramp counts the ones before."""
        ...

    async def close(self) -> None: ...
