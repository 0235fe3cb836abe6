"""status.timeline from the phases' per-second samples and the injection records (pure).

Bounded whatever the phases' lengths: steps of ``step_seconds`` so that at most TIMELINE_POINTS (+1 per phase
for a partial last step) points remain, and at most TIMELINE_MARKS marks (marks of one kind are merged per
step, then over doubling widths until they fit). Sizes are stated in docs/timeline.md.
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Sequence
from typing import Any, Literal

from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.models.status import (
    TIMELINE_MARKS,
    TIMELINE_POINTS,
    Injection,
    LoadSpan,
    Timeline,
    TimelineMark,
    TimelinePoint,
    TimelineWindow,
)
from chaos_operator.models.timestamps import format_time, parse_time
from chaos_operator.ports import Clock, LoadDriver, LoadResult, ResumableLoad

log = logging.getLogger(__name__)
PhaseName = Literal["baseline", "chaos", "recovery"]
ORDER: tuple[PhaseName, ...] = ("baseline", "chaos", "recovery")


class Recording:
    """The experiment's load, measured one named phase at a time; it keeps each phase's result for the timeline."""

    def __init__(self, load: LoadDriver) -> None:
        self._load = load
        self._measured: dict[PhaseName, LoadResult] = {}

    @property
    def resumable(self) -> ResumableLoad | None:
        """The load when its figures outlive this daemon (load workers), else None."""
        return self._load if isinstance(self._load, ResumableLoad) else None

    async def measure(self, phase: PhaseName, duration_s: float, stop: Any, split: Any = None,
                      begun: float | None = None) -> LoadResult:
        """The phase, from ``begun`` (unix seconds, a resumable load only) when it began earlier."""
        load = self.resumable
        if begun is not None and load is not None:
            result = await load.run_phase_from(begun, duration_s, stop, split)
        else:
            result = await self._load.run_phase(duration_s, stop, split)
        self._measured[phase] = result
        return result

    async def recut(self, phase: PhaseName, span: LoadSpan) -> LoadResult:
        """A phase an earlier daemon measured, cut again from the load's data (engine/resume.py)."""
        assert self.resumable is not None
        result = await self.resumable.recut(span)
        self._measured[phase] = result
        return result

    @property
    def measured(self) -> list[tuple[PhaseName, LoadResult]]:
        """The phases measured so far, in the order of the run."""
        return [(name, self._measured[name]) for name in ORDER if name in self._measured]

    async def close(self, keep: bool = False) -> None:
        """End the load; ``keep``: a resumable load goes on for the next daemon (this one is stopping)."""
        if keep and (load := self.resumable) is not None:
            await load.detach()
        else:
            await self._load.close()


def build_for(load: Recording | None, injections: Sequence[Injection], clock: Clock) -> Timeline | None:
    """The timeline of what ``load`` measured, or None when nothing was.

    Advisory: a failure to build it costs the picture, never the experiment's end.
    """
    if load is None:
        return None
    try:
        return build(load.measured, injections, clock.now(), clock.monotonic())
    except Exception:
        log.exception("could not build the timeline")
        return None


def build(phases: Sequence[tuple[PhaseName, LoadResult]], injections: Sequence[Injection],
          now: datetime.datetime, now_mono: float) -> Timeline | None:
    """The timeline of the phases measured so far (in order); None before the baseline has run.

    ``now``/``now_mono`` are one reading of the wall and monotonic clocks: they place t = 0 on the wall
    clock, where the injection records' timestamps live.
    """
    if not phases:
        return None
    t0_mono = phases[0][1].started_mono
    seconds = sum(len(_whole(r.samples)) for _, r in phases)
    step = max(1, math.ceil(seconds / TIMELINE_POINTS))
    windows: list[TimelineWindow] = []
    points: list[TimelinePoint] = []
    for name, result in phases:
        start = max(0.0, result.started_mono - t0_mono)
        samples = _whole(result.samples)
        end = start + (samples[-1].offset_s + 1 if samples else 0.0)
        windows.append(TimelineWindow(phase=name, start=round(start, 2), end=round(end, 2)))
        for first in range(0, len(samples), step):
            points.append(_point(start, samples[first:first + step]))
    t0_wall = now.astimezone(datetime.UTC) - datetime.timedelta(seconds=now_mono - t0_mono)
    chaos_start = next((w.start for w in windows if w.phase == "chaos"), 0.0)
    marks = _marks(injections, t0_wall, chaos_start, step)
    return Timeline(started_at=format_time(t0_wall), step_seconds=step, windows=windows, points=points,
                    marks=marks)


def _whole(samples: Sequence[SecondSample]) -> list[SecondSample]:
    return sorted((s for s in samples if s.offset_s >= 0), key=lambda s: s.offset_s)


def _point(start: float, seconds: Sequence[SecondSample]) -> TimelinePoint:
    timed = [s for s in seconds if s.p50_s is not None and s.p95_s is not None]
    p50 = p95 = None
    if timed:
        weight = max(1, sum(s.requests for s in timed))  # a second with a latency had a request
        p50 = sum((s.p50_s or 0.0) * s.requests for s in timed) / weight * 1000
        p95 = max(s.p95_s or 0.0 for s in timed) * 1000
    return TimelinePoint(t=round(start + seconds[0].offset_s, 2), requests=sum(s.requests for s in seconds),
                         errors=sum(s.errors for s in seconds),
                         p50_ms=None if p50 is None else round(p50, 2), p95_ms=None if p95 is None else round(p95, 2))


def _offset(stamp: str | None, t0_wall: datetime.datetime) -> float | None:
    if stamp is None:
        return None
    try:
        at = parse_time(stamp)
    except ValueError:
        return None
    # Records carry whole seconds: the middle of that second is the best guess (at most 0.5 s off).
    return (at - t0_wall).total_seconds() + 0.5


def _marks(injections: Sequence[Injection], t0_wall: datetime.datetime, chaos_start: float,
           step: int) -> list[TimelineMark]:
    instants: list[tuple[Literal["Injected", "Recovered"], float]] = []
    for record in injections:
        injected = _offset(record.injected_at, t0_wall)
        if injected is None:
            continue
        injected = max(injected, chaos_start)  # nothing is injected before the chaos window opens
        instants.append(("Injected", injected))
        recovered = _offset(record.recovered_at, t0_wall)
        if recovered is not None:
            instants.append(("Recovered", max(recovered, injected)))
    width = float(step)
    while True:
        groups: dict[tuple[str, int], list[float]] = {}
        for kind, t in instants:
            groups.setdefault((kind, int(t // width)), []).append(t)
        if len(groups) <= TIMELINE_MARKS:
            break
        width *= 2
    marks = [TimelineMark(t=round(min(ts), 2), kind="Injected" if kind == "Injected" else "Recovered",
                          count=len(ts))
             for (kind, _), ts in groups.items()]
    return sorted(marks, key=lambda m: (m.t, m.kind))
