"""When did the service come back after the fault?

The input is the recovery phase's per-second timeline. The service is back at the first second that

1. is healthy on its own: it served requests, its error rate is within the error tolerance and its
   p95 within the latency tolerance, and
2. starts a healthy remainder: every later second served requests, and the rest of the phase taken
   together (errors / requests, request-weighted mean of the per-second p95) is within tolerance.

Why the remainder is judged as a whole rather than second by second: at 50 requests/s one stray
error is a 2 % error rate for that second, so requiring *every* later second to be clean would push
"recovered" to the last stray error of a perfectly healthy service. A relapse still counts when it is
large enough to put the rest of the phase out of tolerance (a full-second outage does, at the default
tolerance, in phases up to ~100 s), and a stalled second (no request completed) always does.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from chaos_operator.analysis.buckets import SecondHistogram
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import PhaseResult

DEFAULT_ERROR_MARGIN = 0.01  # over the baseline error rate when no maxErrorRate is set
DEFAULT_LATENCY_FACTOR = 1.5  # baseline p95 × this when no maxLatencyDegradation is set
MIN_LATENCY_MARGIN_S = 0.005  # never closer than 5 ms to the baseline: µs baselines would flap


@dataclass(frozen=True)
class SecondSample:
    """One whole second of the recovery phase, as the load generator saw it.

    Leave a trailing partial second out: with few or no requests it would read as a stall.
    """

    offset_s: float  # start of this second, from the start of the recovery phase
    requests: int  # requests attributed to this second, failed ones included
    errors: int
    p95_s: float | None  # None when no request completed with a latency
    p50_s: float | None = None  # the timeline in status draws it; recovery analysis does not use it
    # What the statistical comparisons resample (bootstrap.py): the requests that had a latency, their sum,
    # and their buckets. Empty when the source kept no per-second distribution.
    latency_count: int = 0
    latency_sum_s: float = 0.0
    histogram: SecondHistogram = ()


class _NotApplicable(enum.Enum):
    NOT_APPLICABLE = "not applicable"


# The fault has no workload to restore (e.g. NetworkLatency): only the service figures count.
NOT_APPLICABLE: Final = _NotApplicable.NOT_APPLICABLE
WorkloadRecovery = float | None | Literal[_NotApplicable.NOT_APPLICABLE]


def error_tolerance(baseline: PhaseResult, slos: Slos) -> float:
    if slos.max_error_rate is not None:
        return slos.max_error_rate
    return baseline.error_rate + DEFAULT_ERROR_MARGIN


def latency_tolerance(baseline: PhaseResult, slos: Slos) -> float | None:
    """Highest acceptable per-second p95, or None when the baseline has no latency to compare with."""
    if baseline.latency is None:
        return None
    base = float(baseline.latency.p95)
    factor = DEFAULT_LATENCY_FACTOR
    if slos.max_latency_degradation is not None:
        factor = 1 + slos.max_latency_degradation / 100
    return max(base * factor, base + MIN_LATENCY_MARGIN_S)


def service_recovered_after(baseline: PhaseResult, samples: Sequence[SecondSample], slos: Slos) -> float | None:
    """Seconds from the start of the recovery phase until the service was back; None if never."""
    max_errors = error_tolerance(baseline, slos)
    max_p95 = latency_tolerance(baseline, slos)
    ordered = sorted(samples, key=lambda s: s.offset_s)
    # Walk backwards so each second sees the totals of its remainder in O(1).
    requests = errors = 0
    weighted_p95 = 0.0
    latency_requests = 0
    stalled_later = False
    found: float | None = None
    for sample in reversed(ordered):
        requests += sample.requests
        errors += sample.errors
        if sample.p95_s is not None:
            weighted_p95 += sample.p95_s * sample.requests
            latency_requests += sample.requests
        stalled_later = stalled_later or sample.requests <= 0
        if stalled_later or not _second_healthy(sample, max_errors, max_p95):
            continue
        if errors > max_errors * requests:
            continue
        if max_p95 is not None and latency_requests and weighted_p95 / latency_requests > max_p95:
            continue
        found = sample.offset_s  # keep walking back: an earlier second may qualify too
    return None if found is None else max(0.0, found)


def _second_healthy(sample: SecondSample, max_errors: float, max_p95: float | None) -> bool:
    if sample.requests <= 0:
        return False  # nothing served is no evidence of health
    if sample.errors > max_errors * sample.requests:
        return False
    if max_p95 is None:
        return True
    return sample.p95_s is not None and sample.p95_s <= max_p95


def recovery_time(service_after: float | None, workload_after: WorkloadRecovery) -> float | None:
    """The experiment's recovery time: the later of service and workload recovery.

    ``None`` for either means "never recovered" and wins; ``NOT_APPLICABLE`` for the workload means the
    fault has nothing to restore, so the service figure alone counts. A workload restored before the
    recovery phase began (negative offset) counts as 0.
    """
    if service_after is None:
        return None
    if workload_after is NOT_APPLICABLE:
        return service_after
    if workload_after is None:
        return None
    return max(service_after, max(0.0, workload_after))
