"""A readable table of one experiment's status (pure: dict in, text out)."""

from __future__ import annotations

from typing import Any

PHASES = ("baseline", "chaos", "recovery")


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [_row(header, widths), *(_row(r, widths) for r in rows)]


COMPARISON_HEADER = ["COMPARISON", "METRIC", "ESTIMATE", "INTERVAL", "TOLERANCE", "N", "CLASS"]
COMPARISON_NAMES = {"baselineVsChaos": "chaos vs baseline", "baselineVsRecovery": "recovery vs baseline"}


def _change(metric: str, value: float, sign: bool = True) -> str:
    """Latency as a relative change (+12.5%), the error rate as percentage points (+0.42 pt)."""
    text = f"{value * 100:+.1f}%" if metric != "errorRate" else f"{value * 100:+.2f} pt"
    return text if sign else text.lstrip("+")


def comparison_rows(status: dict[str, Any]) -> list[list[str]]:
    """status.analysis as table rows: each estimate with its interval against the ±tolerance band."""
    rows = []
    for c in status.get("analysis") or []:
        metric = c["metric"]
        interval = c.get("interval")
        estimate = c.get("estimate")
        why = f" ({c['reason']})" if c.get("reason") else ""
        rows.append([COMPARISON_NAMES.get(c["comparison"], c["comparison"]), metric,
                     "-" if estimate is None else _change(metric, estimate),
                     "-" if not interval else f"[{_change(metric, interval[0])}, {_change(metric, interval[1])}]",
                     "±" + _change(metric, c["tolerance"], sign=False), f"{c['samples']} vs {c['baselineSamples']}",
                     c["class"] + why])
    return rows


def render(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    spec = obj.get("spec", {})
    status = obj.get("status", {})
    lines = [
        f"Experiment: {meta.get('namespace')}/{meta.get('name')}   fault: {spec.get('fault', {}).get('kind')}",
        f"Phase: {status.get('phase', 'Pending')}   verdict: {status.get('verdict', '-')}   "
        f"score: {status.get('score', '-')}   grade: {status.get('grade', '-')}   "
        f"recovery time: {status.get('recoveryTime', '-')}",
        f"Reason: {status.get('reason', '-')}: {status.get('message', '')}",
        "",
    ]
    rows = []
    for name in PHASES:
        ph = status.get("phases", {}).get(name)
        if not ph:
            rows.append([name, "-", "-", "-", "-", "-", "-", "-"])
            continue
        lat = ph.get("latency") or {}
        rows.append([name, str(ph["requests"]), str(ph["errors"]), f"{ph['errorRate']:.4f}",
                     f"{ph['throughput']:.1f}/s", lat.get("p50", "-"), lat.get("p95", "-"), lat.get("p99", "-")])
    lines += _table(["PHASE", "REQUESTS", "ERRORS", "ERROR RATE", "THROUGHPUT", "P50", "P95", "P99"], rows)
    checks = status.get("checks", [])
    if checks:
        lines.append("")
        lines += _table(["CHECK", "PHASE", "OBSERVED", "LIMIT", "RESULT"],
                        [[c["name"], c["phase"], c["observed"], c["limit"], result_of(c)]
                         for c in checks])
    comparisons = comparison_rows(status)
    if comparisons:
        lines.append("")
        lines += _table(COMPARISON_HEADER, comparisons)
    targets = status.get("injections", [])
    if targets:
        lines.append("")
        lines += _table(["TARGET", "STATE", "INJECTED", "RECOVERED"],
                        [[r["target"], r["state"], r.get("injectedAt", "-"), r.get("recoveredAt", "-")]
                         for r in targets])
    return "\n".join(lines) + "\n"


def result_of(check: dict[str, Any]) -> str:
    """A check's RESULT column: pass, FAIL, or inconclusive (low load coverage)."""
    return "inconclusive" if check.get("inconclusive") else "pass" if check["passed"] else "FAIL"
