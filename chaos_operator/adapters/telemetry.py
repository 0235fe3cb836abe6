"""The operator's own Prometheus metrics (prometheus_client); the only module that imports it.

The engine stays free of instrumentation: the recorder calls `observe_status` after each status write (old and
new status: phase, verdict and injection-record transitions, phase load results), the kube adapter reports
failed calls, and `Collector` samples what only the API knows (experiments by phase, helper pods alive).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

from chaos_operator.models.status import TERMINAL_PHASES, ExperimentStatus
from chaos_operator.ports import ExperimentRef

log = logging.getLogger(__name__)
disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin per counter: nothing on our dashboards reads them
REGISTRY = CollectorRegistry()
process_collector.ProcessCollector(registry=REGISTRY)  # process_resident_memory_bytes, CPU, open fds
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
P = "chaos_operator_"

EXPERIMENTS = Gauge(f"{P}experiments", "ChaosExperiments seen in the watched namespaces, by phase and verdict",
                    ["phase", "verdict"], registry=REGISTRY)
FINISHED = Counter(f"{P}experiments_finished_total", "Experiments this operator brought to a terminal phase",
                   ["phase", "verdict", "reason"], registry=REGISTRY)
PHASES = Counter(f"{P}experiment_phase_transitions_total", "Phases experiments entered", ["phase"],
                 registry=REGISTRY)
INJECTIONS = Counter(f"{P}injections_total", "Fault injections by fault kind and outcome (succeeded|failed)",
                     ["kind", "outcome"], registry=REGISTRY)
RECOVERIES = Counter(f"{P}recoveries_total", "Fault recoveries by fault kind and outcome (succeeded|failed)",
                     ["kind", "outcome"], registry=REGISTRY)
HELPERS = Gauge(f"{P}helper_pods", "Helper and stress pods alive (Pending or Running)", registry=REGISTRY)
LOAD_REQUESTS = Counter(f"{P}load_requests_total", "Load requests sent, by experiment phase", ["phase"],
                        registry=REGISTRY)
LOAD_ERRORS = Counter(f"{P}load_errors_total", "Load requests that failed, by experiment phase", ["phase"],
                      registry=REGISTRY)
API_ERRORS = Counter(f"{P}kube_api_errors_total", "Kubernetes API calls that failed, by operation and HTTP code",
                     ["operation", "code"], registry=REGISTRY)
LOOP_LAG = Histogram(f"{P}event_loop_lag_seconds", "How late the event loop ran a timer",
                     buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=REGISTRY)
LEADER = Gauge(f"{P}leader", "1 while this instance holds the leader Lease (or runs without election)",
               registry=REGISTRY)
LEADER_CHANGES = Counter(f"{P}leader_transitions_total", "Times this instance gained or lost leadership",
                         registry=REGISTRY)
PAUSED = Gauge(f"{P}paused", "1 while the kill switch (ConfigMap chaos-operator-pause) is on", registry=REGISTRY)


def exposition() -> bytes:
    return generate_latest(REGISTRY)


def observe_status(ref: ExperimentRef, kind: str | None, old: ExperimentStatus, new: ExperimentStatus) -> None:
    """Count what changed between two consecutive status writes of one experiment."""
    kind = kind or "unknown"
    if new.phase != old.phase:
        PHASES.labels(new.phase).inc()
        if new.phase in TERMINAL_PHASES:
            FINISHED.labels(new.phase, new.verdict or "none", new.reason or "none").inc()
    before = {i: r.state for i, r in enumerate(old.injections)}
    for index, record in enumerate(new.injections):
        was = before.get(index)
        if was == record.state:
            continue
        # Record changes are coalesced (engine/coalesce.py): one write may carry a record past several states.
        applied = record.injected_at is not None
        if was == "Pending" and (record.state == "Failed" or applied):
            INJECTIONS.labels(kind, "failed" if record.state == "Failed" else "succeeded").inc()
        if applied and record.state in ("Recovered", "RecoveryFailed"):
            RECOVERIES.labels(kind, "succeeded" if record.state == "Recovered" else "failed").inc()
    for phase in ("baseline", "chaos", "recovery"):
        result = getattr(new.phases, phase)
        if result is not None and getattr(old.phases, phase) is None:
            LOAD_REQUESTS.labels(phase).inc(result.requests)
            LOAD_ERRORS.labels(phase).inc(result.errors)


def api_error(operation: str, code: int | None) -> None:
    API_ERRORS.labels(operation, str(code) if code else "none").inc()


def set_leader(leading: bool) -> None:
    LEADER.set(1 if leading else 0)
    LEADER_CHANGES.inc()


async def watch_loop_lag(every_s: float = 0.25) -> None:
    """Sleep a fixed time and record how much later than asked the loop woke us."""
    while True:
        start = time.monotonic()
        await asyncio.sleep(every_s)
        LOOP_LAG.observe(max(0.0, time.monotonic() - start - every_s))


Lister = Callable[[], Awaitable[list[dict[str, Any]]]]


async def collect(list_experiments: Lister, list_helpers: Lister, every_s: float = 10.0) -> None:
    """Sample the gauges only the API can answer; a failed sample keeps the last values."""
    while True:
        try:
            experiments, helpers = await list_experiments(), await list_helpers()
        except Exception as exc:
            log.debug("metrics sample failed: %s", exc)
        else:
            by: Tally[tuple[str, str]] = Tally()
            for obj in experiments:
                status = obj.get("status") or {}
                by[(str(status.get("phase") or "Pending"), str(status.get("verdict") or "none"))] += 1
            EXPERIMENTS.clear()
            for (phase, verdict), count in by.items():
                EXPERIMENTS.labels(phase, verdict).set(count)
            alive = [p for p in helpers if (p.get("status") or {}).get("phase") in (None, "Pending", "Running")
                     and not (p.get("metadata") or {}).get("deletionTimestamp")]
            HELPERS.set(len(alive))
        await asyncio.sleep(every_s)
