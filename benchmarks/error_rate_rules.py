"""The error-rate comparison's design-effect rule against the alternatives, side by side (docs/scoring.md).

    python benchmarks/error_rate_rules.py [--aa 2000] [--runs 400] [--outages 200] [--seed 1]

Errors only, in the world of verdict_calibration.py (50 req/s; bursts start in 1 % of the seconds, last 1–3 s
and fail 5 % of the requests; outside them 1 request in 2000 fails), with a recovery phase like the baseline.
Each rule divides a phase's errors and requests by a design effect (chaos_operator/analysis/intervals.py) and
classes Newcombe's interval for chaos − baseline; what differs is whose clustering each phase is given:

    pooled (ours)      baseline and chaos pooled, for both
    each its own       each phase its own; a phase without errors has none (1)
    baseline's own     the baseline's, for both (the clustering "under no fault")
    reference          baseline: baseline and recovery pooled; chaos: all three pooled

Scenarios: A/A (60 s phases, tolerance 0.05 points, as in verdict_calibration.py), +1 point of independent errors
(the same), and a kill of a service's only replica: every request fails for 1 or 4 whole seconds of a 12 s or
60 s chaos phase (tolerance 1 point, the e2e tests' `maxErrorRate: 0.01`). Prints the share classed Degraded;
~2 s of CPU.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from verdict_calibration import (  # beside this script: the same simulated world
    BURST_ERRORS,
    BURST_SECONDS,
    BURST_START,
    ERROR_TOLERANCE,
    RATE,
    SECONDS,
    SPORADIC_ERRORS,
)

from chaos_operator.analysis.bootstrap import block_length
from chaos_operator.analysis.comparison import classify
from chaos_operator.analysis.intervals import design_effect, error_blocks, newcombe_difference
from chaos_operator.models.status import ComparisonClass

Blocks = list[tuple[int, int]]
Rule = Callable[[Blocks, Blocks, Blocks], tuple[float, float]]  # baseline, chaos, recovery -> their divisors
RULES: dict[str, Rule] = {
    "pooled (ours)": lambda b, c, r: (design_effect(b, c), design_effect(b, c)),
    "each its own": lambda b, c, r: (design_effect(b), design_effect(c)),
    "baseline's own": lambda b, c, r: (design_effect(b), design_effect(b)),
    "reference": lambda b, c, r: (design_effect(b, r), design_effect(b, r, c)),
}


def simulate(rng: random.Random, seconds: int, extra: float = 0.0, outage: range = range(0)) -> list[int]:
    """Errors per second of one phase."""
    errors, left = [], 0
    for second in range(seconds):
        if left == 0 and rng.random() < BURST_START:
            left = rng.randint(*BURST_SECONDS)
        fail = 1.0 if second in outage else (BURST_ERRORS if left else SPORADIC_ERRORS) + extra
        left = max(0, left - 1)
        errors.append(sum(1 for _ in range(RATE) if rng.random() < fail))
    return errors


def degraded(rule: Rule, phases: tuple[list[int], list[int], list[int]], tolerance: float) -> bool:
    blocks = [error_blocks(p, [RATE] * len(p), block_length(len(p))) for p in phases]
    d_base, d_chaos = rule(*blocks)
    base, chaos, _ = phases
    _, interval = newcombe_difference(sum(base) / d_base, RATE * len(base) / d_base,
                                      sum(chaos) / d_chaos, RATE * len(chaos) / d_chaos)
    return classify(interval.lo, interval.hi, tolerance) is ComparisonClass.DEGRADED


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--aa", type=int, default=2000, help="A/A runs")
    parser.add_argument("--runs", type=int, default=400, help="runs of +1 point of errors")
    parser.add_argument("--outages", type=int, default=200, help="runs of each outage scenario")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cpu = time.process_time()
    scenarios = [  # name, runs, phase seconds, extra errors in chaos, outage seconds, tolerance, target
        ("A/A (no effect)", args.aa, SECONDS, 0.0, range(0), ERROR_TOLERANCE, "<= 2%"),
        ("+1 point of errors", args.runs, SECONDS, 0.01, range(0), ERROR_TOLERANCE, ">= 90%"),
        ("only replica: 1 s of 12 s", args.outages, 12, 0.0, range(3, 4), 0.01, ""),
        ("only replica: 4 s of 12 s", args.outages, 12, 0.0, range(3, 7), 0.01, ""),
        ("only replica: 1 s of 60 s", args.outages, 60, 0.0, range(3, 4), 0.01, ""),
        ("only replica: 4 s of 60 s", args.outages, 60, 0.0, range(3, 7), 0.01, ""),
    ]
    print("share of runs whose chaos-vs-baseline errorRate is classed Degraded, by design-effect rule")
    print(f"{'scenario':<28}{'runs':>6}{'target':>8}" + "".join(f"{name:>16}" for name in RULES))
    for name, runs, seconds, extra, outage, tolerance, target in scenarios:
        hits = dict.fromkeys(RULES, 0)
        for _ in range(runs):
            phases = (simulate(rng, seconds), simulate(rng, seconds, extra, outage), simulate(rng, seconds))
            for rule_name, rule in RULES.items():
                hits[rule_name] += degraded(rule, phases, tolerance)
        print(f"{name:<28}{runs:>6}{target:>8}" + "".join(f"{hits[r] / runs:>16.1%}" for r in RULES))
    print(f"elapsed {time.process_time() - cpu:.0f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
