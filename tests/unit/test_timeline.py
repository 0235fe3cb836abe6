"""status.timeline: downsampling, phase windows, marks, and its size bound for the longest phases the CRD allows."""

from __future__ import annotations

import datetime
import json

from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.cli.validate.document import crd_problems
from chaos_operator.engine.timeline import ORDER, PhaseName, Recording, build
from chaos_operator.models.status import (
    TIMELINE_MARKS,
    TIMELINE_POINTS,
    ExperimentStatus,
    Injection,
    PhaseResult,
    RecordState,
    Timeline,
)
from chaos_operator.ports import LoadResult
from tests.support.manifests import base_manifest

T0 = datetime.datetime(2025, 3, 4, 10, 0, 0, tzinfo=datetime.UTC)
SUMMARY = PhaseResult(started_at="2025-03-04T10:00:00Z", finished_at="2025-03-04T10:01:00Z", requests=0, errors=0,
                      error_rate=0.0, throughput=0.0)


def _phase(start_mono: float, seconds: int, rate: int, errors: int = 0, p50: float = 0.010,
           p95: float = 0.020) -> LoadResult:
    samples = [SecondSample(offset_s=float(i), requests=rate, errors=errors, p95_s=p95, p50_s=p50)
               for i in range(seconds)]
    return LoadResult(result=SUMMARY, started_mono=start_mono, samples=samples)


def _stamp(seconds: float) -> str:
    return (T0 + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_short_run_keeps_every_second_with_its_phase_windows_and_marks() -> None:
    phases: list[tuple[PhaseName, LoadResult]] = [
        ("baseline", _phase(100.0, 3, 50)),
        ("chaos", _phase(103.2, 4, 50, errors=5, p50=0.050, p95=0.300)),
        ("recovery", _phase(108.0, 3, 50)),
    ]
    records = [Injection(target="a", uid="u", state=RecordState.RECOVERED, injected_at=_stamp(3),
                         recovered_at=_stamp(7))]
    # Now is 11 s after t = 0 on both clocks: t = 0 is T0 on the wall clock.
    tl = build(phases, records, T0 + datetime.timedelta(seconds=11), 111.0)
    assert tl is not None
    assert (tl.started_at, tl.step_seconds) == ("2025-03-04T10:00:00Z", 1)
    assert [(w.phase, w.start, w.end) for w in tl.windows] == [
        ("baseline", 0.0, 3.0), ("chaos", 3.2, 7.2), ("recovery", 8.0, 11.0)]
    assert [p.t for p in tl.points] == [0.0, 1.0, 2.0, 3.2, 4.2, 5.2, 6.2, 8.0, 9.0, 10.0]
    chaos = tl.points[3]
    assert (chaos.requests, chaos.errors, chaos.p50_ms, chaos.p95_ms) == (50, 5, 50.0, 300.0)
    # Record stamps are whole seconds: a mark sits mid-second, and never before the chaos window opens.
    assert [(m.kind, m.t, m.count) for m in tl.marks] == [("Injected", 3.5, 1), ("Recovered", 7.5, 1)]


def test_steps_sum_counts_take_the_worst_p95_and_never_span_two_phases() -> None:
    base = _phase(0.0, 300, 10)
    chaos = LoadResult(result=SUMMARY, started_mono=300.0, samples=[
        SecondSample(offset_s=float(i), requests=10, errors=1, p95_s=0.5 if i == 7 else 0.1,
                     p50_s=0.02 if i % 2 else 0.04) for i in range(300)])
    tl = build([("baseline", base), ("chaos", chaos)], [], T0, 600.0)
    assert tl is not None and tl.step_seconds == 3  # 600 s over at most 240 points
    assert len(tl.points) == 200 and tl.points[100].t == 300.0
    third = tl.points[102]  # chaos seconds 6, 7, 8
    assert (third.requests, third.errors, third.p95_ms) == (30, 3, 500.0)
    assert third.p50_ms == round((40 + 20 + 40) / 3, 2)


def test_seconds_without_latency_leave_the_percentiles_out() -> None:
    dead = LoadResult(result=SUMMARY, started_mono=0.0,
                      samples=[SecondSample(offset_s=0.0, requests=50, errors=50, p95_s=None)])
    tl = build([("baseline", dead)], [], T0, 1.0)
    assert tl is not None and (tl.points[0].p50_ms, tl.points[0].p95_ms) == (None, None)
    assert "p50Ms" not in tl.to_api()["points"][0]  # type: ignore[index]


def test_no_measured_phase_gives_no_timeline() -> None:
    assert build([], [], T0, 0.0) is None


def worst_case() -> Timeline:
    """1 h per phase (the CRD's maximum) at 5000 req/s (its maximum rate), every request failed with a 60 s
    timeout (the largest latency), and 1000 injection records (maxItems) at distinct instants."""
    phases: list[tuple[PhaseName, LoadResult]] = [
        (name, _phase(i * 3700.0 + 0.123, 3600, 5000, errors=5000, p50=59.999999, p95=59.999999))
        for i, name in enumerate(ORDER)]
    records = [Injection(target=f"pod-{i}", uid="u", state=RecordState.RECOVERED, injected_at=_stamp(3700 + 3.6 * i),
                         recovered_at=_stamp(3701 + 3.6 * i)) for i in range(1000)]
    tl = build(phases, records, T0 + datetime.timedelta(seconds=11200), 11200.0)
    assert tl is not None
    return tl


def test_the_longest_run_stays_within_the_stated_bound() -> None:
    tl = worst_case()
    assert tl.step_seconds == 45
    assert len(tl.points) <= TIMELINE_POINTS + 3 and len(tl.marks) <= TIMELINE_MARKS
    assert sum(m.count for m in tl.marks) == 2000  # merged, none lost
    compact = len(json.dumps(tl.to_api(), separators=(",", ":")))
    # docs/timeline.md and the CRD's description state this bound.
    assert compact < 22 * 1024, compact
    doc = {**base_manifest(), "status": ExperimentStatus(timeline=tl).to_api()}
    assert crd_problems(doc) == []


class _Load:
    def __init__(self) -> None:
        self.started = 0.0

    async def run_phase(self, duration_s: float, stop: object, split: object = None) -> LoadResult:
        self.started += 100.0
        return _phase(self.started, 2, 10)

    async def close(self) -> None:
        pass


async def test_the_recording_names_each_phase_by_what_the_runner_says_it_measures() -> None:
    recording = Recording(_Load())
    await recording.measure("baseline", 1.0, None)
    await recording.measure("recovery", 1.0, None)  # no chaos phase measured: recovery is still recovery
    assert [(name, r.started_mono) for name, r in recording.measured] == [("baseline", 100.0), ("recovery", 200.0)]
    await recording.measure("chaos", 1.0, None)
    assert [name for name, _ in recording.measured] == list(ORDER)
