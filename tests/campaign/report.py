"""The kill-anywhere campaign's figures as markdown (docs/chaos-campaign.md)."""

from __future__ import annotations

import collections
import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.campaign.kill_anywhere import Run


def render(runs: Sequence[Run], left: str, *, seed: int, instants: int, seconds: float,
           netem: str | None = None) -> str:
    """`netem`: why this kernel has no netem, or None when it has."""
    kinds = list(dict.fromkeys(r.kind for r in runs))
    lines = [
        "# Kill-anywhere campaign",
        "",
        f"`make chaos-campaign` on {datetime.date.today().isoformat()}: seed {seed}, {instants} SIGKILLs of the "
        f"operator per fault kind, {len(runs)} runs in {seconds / 60:.1f} min. Each run: one experiment "
        "(baseline 3s, chaos 4s, recovery 2s, 40 req/s), the operator SIGKILLed at an instant drawn in one of the "
        "windows below, a new operator started at once; then the checks (tests/campaign/kill_anywhere.py).",
        "",
        "| fault | instants | killed in (phase seen just before) | terminal phases | reasons | residue or lie |",
        "|---|---|---|---|---|---|",
    ]
    for kind in kinds:
        mine = [r for r in runs if r.kind == kind]
        killed = collections.Counter(r.killed_in.split("[")[0] for r in mine)
        phases = collections.Counter(r.phase or "none" for r in mine)
        reasons = collections.Counter(r.reason or "none" for r in mine)
        bad = sum(1 for r in mine if not r.ok)
        lines.append(f"| {kind} | {len(mine)} | {_counts(killed)} | {_counts(phases)} | {_counts(reasons)} | "
                     f"{bad} of {len(mine)} |")
    lines += ["", "Windows: `baseline` (Baseline + 0–2.5 s), `injecting` (first record written, + 0–0.8 s: the helper "
              "pod being created and awaited), `chaos` (every record Injected, + 0–3 s), `recovery` (Recovery + "
              "0–1.5 s), `analysis` (Analyzing + 0–0.3 s; a run that ends sooner is killed just after it ended).",
              "", f"Leftover scan of the sandbox run after it stopped: {left or 'nothing left'}.", "",
              "Reading the figures:", "",
              "- A kill in the baseline starts the run over (nothing was injected yet); a kill once something may "
              "be injected recovers every record and ends `Completed`/`OperatorRestarted` (Inconclusive): the load "
              "figures lived in the dead process. `TooFewSamples` is the verdict of a run whose 4 s chaos window held "
              "fewer than 100 requests once the ramp (helper pods becoming active) is left out: short phases keep "
              "the campaign cheap, and the verdict says so instead of grading too few samples.",
              "- `injecting` kills landing on `Chaos[Pending]` hit a helper fault between its Pending record and "
              "its Injected one (helper pod created, agent starting). PodKill injects at once, so there the window "
              "finds the record Injected.",
              "- The analysis takes a fraction of a second, so most `analysis` kills land just after the run "
              "ended; those still check a restart over a finished experiment (nothing is run again).",
              ("- NetworkLatency: " + netem + ". So the agent cannot inject it: each run "
               "checks that the failed injection ends the experiment (`Failed`/`InjectionFailed` when the kill came "
               "after it) with nothing left behind; kills before the agent reported were recovered like any other. "
               "NetworkBandwidth (tbf) runs for real." if netem else
               "- NetworkLatency runs for real (this kernel has netem)."), "",
              "## Every run", "", "| # | fault | window | delay | killed in | ended | records | problems |",
              "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(runs, 1):
        lines.append(f"| {i} | {r.kind} | {r.stage} | {r.delay:.2f}s | {r.killed_in} | {r.phase}/{r.reason} | "
                     f"{', '.join(r.records) or '-'} | {'; '.join(r.problems) or '-'} |")
    return "\n".join(lines) + "\n"


def _counts(counter: collections.Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common())
