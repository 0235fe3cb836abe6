"""The ChaosExperiment status (its schema: crds/). Only engine/recorder.py writes it."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import Field

from chaos_operator.models.base import ApiModel
from chaos_operator.models.duration import Duration


class Phase(enum.StrEnum):
    """Where an experiment is; the wire values are the CRD's enum."""

    PENDING = "Pending"
    BASELINE = "Baseline"
    CHAOS = "Chaos"
    RECOVERY = "Recovery"
    ANALYZING = "Analyzing"
    COMPLETED = "Completed"
    ABORTED = "Aborted"
    FAILED = "Failed"


TERMINAL_PHASES: frozenset[str] = frozenset({Phase.COMPLETED, Phase.ABORTED, Phase.FAILED})


class Verdict(enum.StrEnum):
    PASSED = "Passed"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


class RecordState(enum.StrEnum):
    """One injection record: Pending (write-ahead) -> Injected -> Reverting -> Recovered; Failed when the fault was
    never applied; RecoveryFailed when every revert attempt failed (the fault may still hold: a resumed or deleted
    experiment tries again)."""

    PENDING = "Pending"
    INJECTED = "Injected"
    REVERTING = "Reverting"  # written before a revert begins: no reader sees Injected for a fault being removed
    RECOVERED = "Recovered"
    FAILED = "Failed"
    RECOVERY_FAILED = "RecoveryFailed"


Grade = Literal["GOOD", "MODERATE", "POOR"]
# Status is read from the API as plain strings: enum fields accept their wire values (strict mode would not).
_Lax = Field(strict=False)
# RFC 3339 timestamps, UTC, as Kubernetes writes them.
Timestamp = Annotated[str, Field(max_length=40)]
Reason = Annotated[str, Field(max_length=64, pattern=r"^[A-Z][A-Za-z0-9]*$")]
# The CRD's bounds on status: messages, and the lists that grow with a run.
MAX_MESSAGE = 1024
MAX_RECORDS = 1000  # status.injections
MAX_TARGETS = 1000  # status.targets
MAX_CHECKS = 64  # status.checks
# The size status is kept under (JSON bytes; engine/budget.py): under the 256 KiB the operator promises for 1,000
# targets, far under etcd's 1.5 MiB object limit past which no write succeeds.
STATUS_BUDGET = 240 * 1024
MAX_SUMMARISED = 1_000_000  # each count of status.summarised (a count, not a bound that can be reached)
Message = Annotated[str, Field(max_length=MAX_MESSAGE)]


def clip(message: str) -> str:
    """A message cut to what status (and its conditions) accepts."""
    return message[:MAX_MESSAGE]


class TargetRef(ApiModel):
    name: Annotated[str, Field(max_length=253)]
    uid: Annotated[str, Field(max_length=64)]
    node_name: Annotated[str, Field(max_length=253)] | None = None
    # Field() wraps the whole optional type: inside `Annotated[...] | None` pydantic ignores an alias.
    pod_ip: Annotated[str | None, Field(max_length=64, alias="podIP")] = None  # Kubernetes spells it podIP


class Injection(ApiModel):
    target: Annotated[str, Field(max_length=253)]
    uid: Annotated[str, Field(max_length=64)]
    state: Annotated[RecordState, _Lax]
    helper_pod: Annotated[str, Field(max_length=253)] | None = None
    injected_at: Timestamp | None = None
    # When it left Injected: its revert began, or its helper was found lost. [injectedAt, heldUntil] is when the
    # fault held on this target (docs/architecture.md); recoveredAt when it was known to be gone.
    held_until: Timestamp | None = None
    recovered_at: Timestamp | None = None
    message: Message | None = None


class Latency(ApiModel):
    mean: Duration
    p50: Duration
    p90: Duration
    p95: Duration
    p99: Duration
    max: Duration


class ErrorCounts(ApiModel):
    timeout: Annotated[int, Field(ge=0)] = 0
    connection: Annotated[int, Field(ge=0)] = 0
    # explicit alias: the generated camelCase would be http5Xx
    http5xx: Annotated[int, Field(ge=0, alias="http5xx")] = 0
    unexpected_status: Annotated[int, Field(ge=0)] = 0


class Ramp(ApiModel):
    """The chaos load before every target's fault was in effect, kept out of the chaos figures."""

    started_at: Timestamp
    finished_at: Timestamp
    requests: Annotated[int, Field(ge=0)]
    errors: Annotated[int, Field(ge=0)]
    error_rate: Annotated[float, Field(ge=0, le=1)]


class FaultHeld(ApiModel):
    """Chaos only: how long the fault held on every target of the first round, the time the verdict judged."""

    seconds: Annotated[float, Field(ge=0, le=86400)]  # from every target holding it to the window's end or a loss
    asked: Annotated[float, Field(ge=0, le=86400)]  # spec.phases.chaos
    held_on: Annotated[int, Field(ge=0, le=MAX_RECORDS)]  # targets of the first round that held it
    targets: Annotated[int, Field(ge=0, le=MAX_RECORDS)]  # targets of the first round
    until: Timestamp | None = None  # when it stopped holding before the window's end (a helper was lost)
    lost: Annotated[str, Field(max_length=253)] | None = None  # the target whose fault ended first
    observed: Annotated[str, Field(max_length=512)] | None = None  # the evidence: pods deleted, helpers Ready


class PhaseResult(ApiModel):
    started_at: Timestamp
    finished_at: Timestamp
    requests: Annotated[int, Field(ge=0)]
    errors: Annotated[int, Field(ge=0)]
    error_rate: Annotated[float, Field(ge=0, le=1)]
    throughput: Annotated[float, Field(ge=0)]
    latency: Latency | None = None  # absent when no request completed
    error_classes: ErrorCounts = ErrorCounts()
    ramp: Ramp | None = None  # chaos only
    fault_held: FaultHeld | None = None  # chaos only
    # Load workers only: the share of the requests the schedule intended in this phase that some worker
    # accounted for (a lost worker lowers it); below 95 % (analysis/coverage.py) the phase's checks are Inconclusive.
    coverage: Annotated[float, Field(ge=0, le=1)] | None = None


UnixTime = Annotated[float, Field(ge=0, le=4_102_444_800)]  # up to 2100


class LoadSpan(ApiModel):
    """Load workers only: one phase's instants to the microsecond (unix seconds), written as the phase begins and
    ends, so that a daemon resuming the run cuts the very same seconds from the workers' data (engine/resume.py)."""

    start: UnixTime
    end: UnixTime | None = None
    split: UnixTime | None = None  # chaos: when every target of the first round held the fault
    whole: UnixTime | None = None  # chaos, a kill: when the workload was found whole after the last round


class LoadSpans(ApiModel):
    baseline: LoadSpan | None = None
    chaos: LoadSpan | None = None
    recovery: LoadSpan | None = None


class PhaseResults(ApiModel):
    baseline: PhaseResult | None = None
    chaos: PhaseResult | None = None
    recovery: PhaseResult | None = None


class Check(ApiModel):
    name: Annotated[str, Field(max_length=63)]
    phase: Literal["baseline", "chaos", "recovery", "experiment"]
    observed: Annotated[str, Field(max_length=64)]
    limit: Annotated[str, Field(max_length=64)]
    passed: bool
    # Set when the figures it judged are not trusted (load coverage below 95 %): neither passed nor failed,
    # and `passed` is false.
    inconclusive: Annotated[str, Field(max_length=256)] | None = None


class ComparisonClass(enum.StrEnum):
    """How a phase compares with the baseline on one metric, against a tolerance (docs/scoring.md)."""

    DEGRADED = "Degraded"  # the whole interval lies beyond the tolerance, on the bad side
    EQUIVALENT = "Equivalent"  # the whole interval lies within ±tolerance
    INCONCLUSIVE = "Inconclusive"  # the interval straddles a bound, or too few samples or seconds to judge
    NO_DATA = "NoData"  # one of the two phases has nothing to compare


ComparisonMetric = Literal["latencyP50", "latencyP95", "latencyP99", "errorRate"]
ComparisonName = Literal["baselineVsChaos", "baselineVsRecovery"]
ANALYSIS_ITEMS = 16


class Comparison(ApiModel):
    """One metric of one phase against the baseline, with its uncertainty.

    Latency metrics: ``estimate`` and ``interval`` are the relative change of the quantile (0.2 is 20 % slower)
    and ``tolerance`` a fraction; errorRate: the difference of the error rates (0.01 is one percentage point
    more errors). ``samples`` counts the phase's samples (requests with a latency, or requests),
    ``baselineSamples`` the baseline's (not ``n``: YAML 1.1 tools read a bare ``n`` key as false).
    ``minDetectable`` is the smallest change this many samples would reliably show, and
    ``phaseNeeded`` how long both phases would have to run for that to reach the tolerance.
    """

    metric: ComparisonMetric
    comparison: ComparisonName
    class_: Annotated[ComparisonClass, _Lax, Field(alias="class")]
    tolerance: Annotated[float, Field(ge=0, le=1e6)]
    samples: Annotated[int, Field(ge=0, le=2**53 - 1)]
    baseline_samples: Annotated[int, Field(ge=0, le=2**53 - 1)]
    estimate: Annotated[float | None, Field(ge=-1e6, le=1e6)] = None
    interval: Annotated[list[Annotated[float, Field(ge=-1e6, le=1e6)]] | None, Field(min_length=2, max_length=2)] = None
    min_detectable: Annotated[float | None, Field(ge=0, le=1e6)] = None
    phase_needed: Duration | None = None
    reason: Annotated[str | None, Field(max_length=64, pattern=r"^[A-Z][A-Za-z0-9]*$")] = None


# Bounds of status.timeline (engine/timeline.py downsamples to them; docs/timeline.md states the byte size).
TIMELINE_POINTS = 240  # the default 1m/2m/1m run keeps whole-second resolution
TIMELINE_MARKS = 64
Seconds = Annotated[float, Field(ge=0, le=86400)]  # offsets from the timeline's start
Millis = Annotated[float, Field(ge=0, le=3_600_000)]


class TimelinePoint(ApiModel):
    """One step of the run: summed counts, and latency in milliseconds (numbers, for plotting)."""

    t: Seconds  # from timeline.startedAt to the step's first second
    requests: Annotated[int, Field(ge=0)]
    errors: Annotated[int, Field(ge=0)]
    p50_ms: Millis | None = None  # absent when no request of the step had a latency
    p95_ms: Millis | None = None


class TimelineWindow(ApiModel):
    phase: Literal["baseline", "chaos", "recovery"]
    start: Seconds
    end: Seconds


class TimelineMark(ApiModel):
    t: Seconds
    kind: Literal["Injected", "Recovered"]
    count: Annotated[int, Field(ge=1, le=1000)]  # records merged into this mark


class Timeline(ApiModel):
    started_at: Timestamp  # wall clock of t = 0, the baseline's first request
    step_seconds: Annotated[int, Field(ge=1, le=3600)]
    windows: Annotated[list[TimelineWindow], Field(max_length=3)] = []
    points: Annotated[list[TimelinePoint], Field(max_length=TIMELINE_POINTS + 3)] = []
    marks: Annotated[list[TimelineMark], Field(max_length=TIMELINE_MARKS)] = []


class Summarised(ApiModel):
    """What status left out to stay under STATUS_BUDGET (engine/budget.py); never anything of a record that may
    still hold a fault but its message."""

    targets: Annotated[int, Field(ge=0, le=MAX_SUMMARISED)] = 0  # status.targets entries dropped: each has a record
    records: Annotated[int, Field(ge=0, le=MAX_SUMMARISED)] = 0  # finished records without message and helperPod
    messages: Annotated[int, Field(ge=0, le=MAX_SUMMARISED)] = 0  # messages dropped from records that may hold a fault


class Condition(ApiModel):
    type: Annotated[str, Field(max_length=64)]
    status: Literal["True", "False", "Unknown"]
    reason: Reason
    message: Message
    last_transition_time: Timestamp
    observed_generation: Annotated[int, Field(ge=0)] | None = None


class ExperimentStatus(ApiModel):
    phase: Annotated[Phase, _Lax] = Phase.PENDING
    verdict: Annotated[Verdict | None, _Lax] = None
    score: Annotated[int, Field(ge=0, le=100)] | None = None
    grade: Grade | None = None
    reason: Reason | None = None
    message: Message | None = None
    seed: Annotated[int, Field(ge=0)] | None = None
    ready_before: Annotated[int, Field(ge=0)] | None = None
    targets: Annotated[list[TargetRef], Field(max_length=MAX_TARGETS)] = []
    injections: Annotated[list[Injection], Field(max_length=MAX_RECORDS)] = []
    summarised: Summarised | None = None  # absent while nothing was left out
    phases: PhaseResults = PhaseResults()
    load_spans: LoadSpans | None = None  # load workers only: where each phase lies in the workers' data
    checks: Annotated[list[Check], Field(max_length=MAX_CHECKS)] = []
    recovery_time: Duration | None = None
    timeline: Timeline | None = None
    analysis: Annotated[list[Comparison], Field(max_length=ANALYSIS_ITEMS)] = []
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    conditions: Annotated[list[Condition], Field(max_length=16)] = []
