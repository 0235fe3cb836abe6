"""Calibration of the statistical comparisons (chaos_operator/analysis/comparison.py) on simulated runs.

    python benchmarks/verdict_calibration.py [--aa 500] [--runs 100] [--seed 1]

Each simulated run has a 60 s baseline and a 60 s chaos phase at 50 requests/s. Latency is log-normal around
20 ms (σ 0.5 per request) times a per-second AR(1) factor (φ 0.5, stationary σ 0.05 on the log scale); bursts
start in 1 % of the seconds, last 1–3 s, make requests 1.3× slower and fail 5 % of them; outside bursts 1 request
in 2000 fails (zero-inflated errors). The same per-second records the operator keeps (counts, latency sum,
2 % histogram) go through the operator's own code, with its 1000 bootstrap resamples.

The world is an assumption: with bursts that make 2 % of the requests twice as slow, a 60 s phase's p95 moves
by ±6 % from run to run on its own, and no interval can then see +20 % nine times in ten without crying wolf.

Scenarios for the chaos phase: A/A (nothing changes), every latency ×1.2 (+20 % p95), +1 percentage point of
independent errors, and a variance rise (σ 0.5 → 0.8, the same median). The tolerances are what a user
would set to catch those effects: 3 % on latency (maxLatencyDegradation: 3%) and 0.05 percentage points on
errors. "Degraded" is the new class; "point" is today's rule, a point estimate beyond the same tolerance,
for the same quantity, and "mean" is today's maxLatencyDegradation check (the effective mean).

Targets: A/A wrongly Degraded <= 2 % on every metric; the +20 % shift Degraded on p95 and the +1 point
Degraded on errors >= 90 %; the variance rise Degraded on p99. Prints figures, exits 1 on a missed target
only with --strict. Bounded: about 90 s of CPU (800 runs).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chaos_operator.analysis.bootstrap import MEAN, PhaseDraws, resample
from chaos_operator.analysis.buckets import histogram_of
from chaos_operator.analysis.comparison import compare_errors, compare_latency
from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.models.status import ComparisonClass, ComparisonMetric

RATE = 50
SECONDS = 60
MEDIAN_S = 0.020
TIMEOUT_S = 2.0
LATENCY_TOLERANCE = 0.03
ERROR_TOLERANCE = 0.0005
PHI, AR_SD = 0.5, 0.05
BURST_START, BURST_SECONDS, BURST_SLOWER, BURST_ERRORS = 0.01, (1, 3), 1.3, 0.05
SPORADIC_ERRORS = 0.0005
METRICS: tuple[ComparisonMetric, ...] = ("latencyP50", "latencyP95", "latencyP99", "errorRate")


@dataclass(frozen=True)
class Scenario:
    name: str
    scale: float = 1.0
    sigma: float = 0.5
    extra_errors: float = 0.0


SCENARIOS = (Scenario("A/A (no effect)"), Scenario("latency x1.2 (+20% p95)", scale=1.2),
             Scenario("+1 point of errors", extra_errors=0.01), Scenario("variance rise, same median", sigma=0.8))


def simulate(rng: random.Random, scenario: Scenario) -> list[SecondSample]:
    phi, sd = PHI, AR_SD
    state = rng.gauss(0.0, sd)
    burst_left = 0
    out: list[SecondSample] = []
    for second in range(SECONDS):
        state = phi * state + rng.gauss(0.0, sd * math.sqrt(1 - phi * phi))
        if burst_left == 0 and rng.random() < BURST_START:
            burst_left = rng.randint(*BURST_SECONDS)
        slow, fail = (math.log(BURST_SLOWER), BURST_ERRORS) if burst_left else (0.0, SPORADIC_ERRORS)
        burst_left = max(0, burst_left - 1)
        centre = math.log(MEDIAN_S * scenario.scale) + state + slow
        latencies = [math.exp(rng.gauss(centre, scenario.sigma)) for _ in range(RATE)]
        errors = sum(1 for _ in range(RATE) if rng.random() < fail + scenario.extra_errors)
        out.append(SecondSample(offset_s=float(second), requests=RATE, errors=errors, p95_s=None,
                                latency_count=RATE, latency_sum_s=sum(latencies), histogram=histogram_of(latencies)))
    return out


def run(rng: random.Random, scenario: Scenario) -> tuple[dict[str, bool], dict[str, bool]]:
    """(new rule Degraded, point rule Degraded) per metric."""
    baseline = resample(simulate(rng, Scenario("baseline")), TIMEOUT_S, seed=rng.randrange(1 << 30))
    chaos = resample(simulate(rng, scenario), TIMEOUT_S, seed=rng.randrange(1 << 30))
    new: dict[str, bool] = {}
    point: dict[str, bool] = {}
    for metric in METRICS:
        if metric == "errorRate":
            finding = compare_errors(baseline, chaos, "baselineVsChaos", ERROR_TOLERANCE)
        else:
            finding = compare_latency(baseline, chaos, "baselineVsChaos", metric, LATENCY_TOLERANCE)
        new[metric] = finding.verdict_class is ComparisonClass.DEGRADED
        point[metric] = finding.estimate is not None and finding.estimate > finding.tolerance
    point["mean"] = _mean_degradation(baseline, chaos) > LATENCY_TOLERANCE
    return new, point


def _mean_degradation(baseline: PhaseDraws, chaos: PhaseDraws) -> float:
    base, under = baseline.point[MEAN], chaos.point[MEAN]
    assert base is not None and under is not None
    return (under - base) / max(base, 0.001)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--aa", type=int, default=500, help="A/A runs")
    parser.add_argument("--runs", type=int, default=100, help="runs of each effect scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started, cpu = time.monotonic(), time.process_time()
    shares: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
    print(f"{SECONDS} s baseline vs {SECONDS} s chaos at {RATE} req/s; tolerances: latency "
          f"{LATENCY_TOLERANCE:.0%}, errors {ERROR_TOLERANCE * 100:g} points; share classed Degraded, "
          "new rule | today's point rule")
    header = "".join(f"{m:>20}" for m in METRICS)
    print(f"{'scenario':<28}{'runs':>6}{header}{'mean (today)':>14}")
    for scenario in SCENARIOS:
        count = args.aa if scenario.name.startswith("A/A") else args.runs
        new_hits: dict[str, int] = dict.fromkeys(METRICS, 0)
        point_hits: dict[str, int] = dict.fromkeys((*METRICS, "mean"), 0)
        for _ in range(count):
            new, point = run(rng, scenario)
            for key, hit in new.items():
                new_hits[key] += hit
            for key, hit in point.items():
                point_hits[key] += hit
        new_share = {k: v / count for k, v in new_hits.items()}
        point_share = {k: v / count for k, v in point_hits.items()}
        shares[scenario.name] = (new_share, point_share)
        cells = "".join(f"{new_share[m]:>9.1%} | {point_share[m]:>7.1%}" for m in METRICS)
        print(f"{scenario.name:<28}{count:>6}{cells}{point_share['mean']:>14.1%}")
    aa, shift, errors, spread = (shares[s.name][0] for s in SCENARIOS)
    targets = [
        ("A/A wrongly Degraded, worst metric <= 2%", max(aa.values()), max(aa.values()) <= 0.02),
        ("+20% latency Degraded on p95 >= 90%", shift["latencyP95"], shift["latencyP95"] >= 0.90),
        ("+1 point errors Degraded on errorRate >= 90%", errors["errorRate"], errors["errorRate"] >= 0.90),
        ("variance rise Degraded on p99 >= 90%", spread["latencyP99"], spread["latencyP99"] >= 0.90),
    ]
    print()
    for text, value, ok in targets:
        print(f"{text:<48} {value:>7.1%}  {'ok' if ok else 'MISS'}")
    print(f"elapsed {time.monotonic() - started:.0f} s wall, {time.process_time() - cpu:.0f} s CPU")
    return 1 if args.strict and not all(ok for _, _, ok in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
