"""A readable table of one experiment's status (pure: dict in, text out)."""

from __future__ import annotations

from typing import Any

PHASES = ("baseline", "chaos", "recovery")


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [_row(header, widths), *(_row(r, widths) for r in rows)]


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
                        [[c["name"], c["phase"], c["observed"], c["limit"], "pass" if c["passed"] else "FAIL"]
                         for c in checks])
    targets = status.get("injections", [])
    if targets:
        lines.append("")
        lines += _table(["TARGET", "STATE", "INJECTED", "RECOVERED"],
                        [[r["target"], r["state"], r.get("injectedAt", "-"), r.get("recoveredAt", "-")]
                         for r in targets])
    return "\n".join(lines) + "\n"
