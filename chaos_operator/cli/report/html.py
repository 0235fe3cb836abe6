"""A self-contained HTML report of one experiment: the picture (PNG inlined as base64), the verdict, the per-phase
figures, the checks and the injections. No script, stylesheet, font or image is fetched from anywhere."""

from __future__ import annotations

import base64
import html
from typing import Any

from chaos_operator.cli.report.plot import PlottingUnavailable, png, title
from chaos_operator.cli.report.table import COMPARISON_HEADER, PHASES, comparison_rows, result_of

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: left; }
th { background: #f2f2f2; }
.Degraded { color: #c62828; font-weight: bold; } .Equivalent { color: #2e7d32; }
.Passed { color: #2e7d32; } .Failed, .fail { color: #c62828; font-weight: bold; } .Inconclusive { color: #8d6e00; }
img { max-width: 100%; }
"""


def _table(header: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{html.escape(classes[index])}"' if classes and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _phases(status: dict[str, Any]) -> str:
    rows = []
    for name in PHASES:
        ph = (status.get("phases") or {}).get(name)
        if not ph:
            rows.append([name, "-", "-", "-", "-", "-", "-", "-"])
            continue
        lat = ph.get("latency") or {}
        rows.append([name, ph["requests"], ph["errors"], f"{ph['errorRate']:.4f}", f"{ph['throughput']:.1f}/s",
                     lat.get("p50", "-"), lat.get("p95", "-"), lat.get("p99", "-")])
    return _table(["phase", "requests", "errors", "error rate", "throughput", "p50", "p95", "p99"], rows)


def render_html(obj: dict[str, Any], picture: bytes | None = None) -> str:
    """The page; ``picture`` is the PNG (drawn here when None; left out, with the reason, when it cannot be)."""
    status = obj.get("status") or {}
    verdict = str(status.get("verdict") or "")
    figure = ""
    if picture is None:
        try:
            picture = png(obj)
        except PlottingUnavailable as exc:
            figure = f"<p><em>No picture: {html.escape(str(exc))}</em></p>"
    if picture is not None:
        data = base64.b64encode(picture).decode("ascii")
        figure = (f'<img alt="latency and error rate over time" src="data:image/png;base64,{data}">')
    summary = _table(["phase", "verdict", "score", "grade", "recovery time", "reason", "message"], [[
        status.get("phase", "Pending"), verdict or "-", status.get("score", "-"), status.get("grade", "-"),
        status.get("recoveryTime", "-"), status.get("reason", "-"), status.get("message", "")]], [verdict])
    checks = status.get("checks") or []
    check_rows = [[c["name"], c["phase"], c["observed"], c["limit"], result_of(c)] for c in checks]
    check_classes = ["" if c["passed"] or c.get("inconclusive") else "fail" for c in checks]
    records = [[r["target"], r["state"], r.get("injectedAt", "-"), r.get("heldUntil", "-"), r.get("recoveredAt", "-")]
               for r in status.get("injections") or []]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title(obj))}</title><style>{STYLE}</style></head><body>",
        f'<h1 class="{html.escape(verdict)}">{html.escape(title(obj))}</h1>',
        summary, figure, "<h2>Phases</h2>", _phases(status),
        "<h2>Checks</h2>", _table(["check", "phase", "observed", "limit", "result"], check_rows, check_classes)
        if checks else "<p>No checks were made.</p>",
    ]
    comparisons = comparison_rows(status)
    if comparisons:
        parts += ["<h2>Comparisons with the baseline</h2>",
                  "<p>Each estimate with its confidence interval; a comparison is Degraded when the whole interval "
                  "lies beyond the tolerance, Equivalent when it lies within plus or minus the tolerance.</p>",
                  _table([h.lower() for h in COMPARISON_HEADER], comparisons,
                         [row[-1].split(" ")[0] for row in comparisons])]
    if records:
        parts += ["<h2>Injections</h2>", _table(["target", "state", "injected", "held until", "recovered"], records)]
    parts.append("</body></html>\n")
    return "\n".join(parts)
