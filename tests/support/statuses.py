"""A status with every field filled in: what the status, report and recorder tests start from."""

from __future__ import annotations

from chaos_operator.models.duration import Duration
from chaos_operator.models.status import (
    Check,
    Comparison,
    ComparisonClass,
    Condition,
    ErrorCounts,
    ExperimentStatus,
    FaultHeld,
    Injection,
    Latency,
    LoadSpan,
    LoadSpans,
    Phase,
    PhaseResult,
    PhaseResults,
    Ramp,
    RecordState,
    Summarised,
    TargetRef,
    Timeline,
    TimelineMark,
    TimelinePoint,
    TimelineWindow,
    Verdict,
)


def _latency(scale: float) -> Latency:
    return Latency(mean=Duration(0.0123 * scale), p50=Duration(0.010 * scale), p90=Duration(0.021 * scale),
                   p95=Duration(0.034 * scale), p99=Duration(0.081 * scale), max=Duration(1.5 * scale))


def _phase(start: str, end: str, requests: int, errors: int, scale: float) -> PhaseResult:
    return PhaseResult(
        started_at=start, finished_at=end, requests=requests, errors=errors, error_rate=errors / requests,
        throughput=requests / 60.0 - 0.25, latency=_latency(scale),
        error_classes=ErrorCounts(timeout=errors // 4, connection=errors // 4, http5xx=errors // 4,
                                  unexpected_status=errors - 3 * (errors // 4)),
        ramp=Ramp(started_at=start, finished_at=start, requests=requests // 100, errors=errors // 100,
                  error_rate=errors / requests),
        fault_held=FaultHeld(seconds=54.5, asked=120.0, held_on=2, targets=2, until=end,
                             lost="checkout-7d9f8b6c4-x2k9p",
                             observed="deleted 2 pod(s), UID 0d5e8f3a-91c2-4b7e-8a61-5f2c9d7e3b10, 7b1c2d3e"),
        coverage=0.9994,
    )


def full_status() -> ExperimentStatus:
    """A finished run with every field of every status model filled in."""
    pods = [("checkout-7d9f8b6c4-x2k9p", "0d5e8f3a-91c2-4b7e-8a61-5f2c9d7e3b10", "node-a", "10.244.1.17"),
            ("checkout-7d9f8b6c4-q8w4n", "7b1c2d3e-4f50-4a6b-9c8d-0e1f2a3b4c5d", "node-b", "fd00:10:244::2a")]
    return ExperimentStatus(
        phase=Phase.COMPLETED, verdict=Verdict.FAILED, score=62, grade="MODERATE", reason="SLOsViolated",
        message="maxLatencyP95 was exceeded during chaos (812ms > 500ms).",
        seed=2**53 - 1, ready_before=3,
        targets=[TargetRef(name=n, uid=u, node_name=node, pod_ip=ip) for n, u, node, ip in pods],
        injections=[Injection(target=n, uid=u, state=RecordState.RECOVERED, helper_pod=f"cex-checkout-{i}",
                              injected_at="2025-03-04T10:01:00Z", held_until="2025-03-04T10:03:00Z",
                              recovered_at="2025-03-04T10:03:00Z",
                              message="pod deleted with grace period 0s")
                    for i, (n, u, _, _) in enumerate(pods)],
        summarised=Summarised(targets=1, records=1, messages=1),
        phases=PhaseResults(
            baseline=_phase("2025-03-04T10:00:00Z", "2025-03-04T10:01:00Z", 3000, 4, 1.0),
            chaos=_phase("2025-03-04T10:01:00Z", "2025-03-04T10:03:00Z", 6000, 96, 7.5),
            recovery=_phase("2025-03-04T10:03:00Z", "2025-03-04T10:04:00Z", 3000, 8, 1.2),
        ),
        load_spans=LoadSpans(baseline=LoadSpan(start=1741082400.0, end=1741082460.0),
                             chaos=LoadSpan(start=1741082460.012, end=1741082580.012, split=1741082460.512,
                                            whole=1741082462.3),
                             recovery=LoadSpan(start=1741082580.3, end=1741082640.3)),
        checks=[
            Check(name="maxErrorRate", phase="chaos", observed="1.6%", limit="1%", passed=False),
            Check(name="maxLatencyP95", phase="chaos", observed="812ms", limit="500ms", passed=False),
            Check(name="recoveryWithin", phase="experiment", observed="12s", limit="30s", passed=True),
        ],
        recovery_time=Duration(12.0),
        timeline=Timeline(
            started_at="2025-03-04T10:00:00Z", step_seconds=1,
            windows=[TimelineWindow(phase="baseline", start=0.0, end=60.0),
                     TimelineWindow(phase="chaos", start=60.012, end=180.012),
                     TimelineWindow(phase="recovery", start=182.5, end=242.5)],
            points=[TimelinePoint(t=0.0, requests=50, errors=0, p50_ms=10.25, p95_ms=34.5),
                    TimelinePoint(t=61.012, requests=50, errors=4, p50_ms=70.1, p95_ms=812.0)],
            marks=[TimelineMark(t=61.5, kind="Injected", count=2), TimelineMark(t=181.5, kind="Recovered", count=2)],
        ),
        analysis=[
            Comparison(metric="latencyP95", comparison="baselineVsChaos", class_=ComparisonClass.INCONCLUSIVE,
                       tolerance=0.5, samples=5904, baseline_samples=2996, estimate=0.42, interval=[0.31, 0.58],
                       min_detectable=0.19, phase_needed=Duration(240.0), reason="IntervalStraddles"),
            Comparison(metric="errorRate", comparison="baselineVsRecovery", class_=ComparisonClass.INCONCLUSIVE,
                       tolerance=0.01, samples=6000, baseline_samples=3000, estimate=0.0147, interval=[0.0112, 0.0184],
                       min_detectable=0.0052, phase_needed=Duration(120.0), reason="TooFewSeconds"),
        ],
        started_at="2025-03-04T10:00:00Z", finished_at="2025-03-04T10:04:05Z", observed_generation=2,
        conditions=[
            Condition(type="Progressing", status="False", reason="SLOsViolated", message="experiment is Completed",
                      last_transition_time="2025-03-04T10:04:05Z", observed_generation=2),
            Condition(type="FaultActive", status="False", reason="NoFaultActive", message="no fault is in effect",
                      last_transition_time="2025-03-04T10:03:00Z", observed_generation=2),
        ],
    )
