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
        "(baseline 5s, chaos 8s, recovery 4s, 40 req/s sent by one load worker), the operator SIGKILLed at an "
        "instant drawn in one of the windows below, a new operator started at once; then the checks "
        "(tests/campaign/kill_anywhere.py).",
        "",
        "| fault | instants | killed in (phase seen just before) | terminal phases | reasons | measured (verdict, "
        "coverage ≥ 95 %) | residue or lie |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in kinds:
        mine = [r for r in runs if r.kind == kind]
        killed = collections.Counter(r.killed_in.split("[")[0] for r in mine)
        phases = collections.Counter(r.phase or "none" for r in mine)
        reasons = collections.Counter(r.reason or "none" for r in mine)
        bad = sum(1 for r in mine if not r.ok)
        measured = sum(1 for r in mine if r.measured)
        lines.append(f"| {kind} | {len(mine)} | {_counts(killed)} | {_counts(phases)} | {_counts(reasons)} | "
                     f"{measured} of {len(mine)} | {bad} of {len(mine)} |")
    lines += ["", "Windows: `baseline` (Baseline + 0–4 s), `injecting` (first record written, + 0–0.8 s: the helper "
              "pod being created and awaited), `chaos` (every record Injected, + 0–6 s), `recovery` (Recovery + "
              "0–3 s), `analysis` (Analyzing + 0–0.3 s; a run that ends sooner is killed just after it ended).",
              "", f"Leftover scan of the sandbox run after it stopped: {left or 'nothing left'}.", "",
              "Reading the figures:", "",
              "- The next operator picks each killed run up from its load workers' data (docs/architecture.md, \"A "
              "run survives the operator\"): the phases measured are cut again, the phase under way goes on to its "
              "planned end. *Measured* counts the runs that ended `Completed` with a verdict and every phase at 95 % "
              "load coverage or more. A run killed between writing a fault's Pending record and the instant the "
              "fault held has no recorded split: it ends `Failed`/`OperatorRestarted` with every record recovered "
              "(what held cannot be placed in the data).",
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
              "## Every run", "",
              "| # | fault | window | delay | killed in | ended | verdict | coverage | records | problems |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(runs, 1):
        share = "-" if r.coverage is None else f"{r.coverage:.1%}"
        lines.append(f"| {i} | {r.kind} | {r.stage} | {r.delay:.2f}s | {r.killed_in} | {r.phase}/{r.reason} | "
                     f"{r.verdict or '-'} | {share} | {', '.join(r.records) or '-'} | {'; '.join(r.problems) or '-'} |")
    return "\n".join(lines) + "\n"


def _counts(counter: collections.Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common())
