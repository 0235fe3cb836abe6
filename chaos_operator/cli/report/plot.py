"""The picture of a run, from status.timeline: latency p50/p95 and error rate over time, the chaos window shaded,
injection and recovery instants marked, and how many targets held the fault (from the records, cli/report/held.py).
matplotlib is an optional extra (`report`), imported only here, lazily."""

from __future__ import annotations

import io
from typing import Any

from chaos_operator.cli.report import held

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 6.0, 100  # a 1000 x 600 pixel PNG
VERDICT_COLOURS = {"Passed": "#2e7d32", "Failed": "#c62828", "Inconclusive": "#8d6e00"}


class PlottingUnavailable(Exception):
    """matplotlib is not installed, or the run has nothing to draw."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display, no GUI toolkit
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlottingUnavailable(
            "report --png/--html draws with matplotlib, an optional extra: pip install 'chaos-operator[report]'"
        ) from exc
    return plt


def title(obj: dict[str, Any]) -> str:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    verdict = status.get("verdict") or status.get("phase", "Pending")
    return (f"{meta.get('namespace')}/{meta.get('name')}  {(spec.get('fault') or {}).get('kind', '')}  "
            f"verdict {verdict}  score {status.get('score', '-')}  grade {status.get('grade', '-')}")


def png(obj: dict[str, Any]) -> bytes:
    """A PNG of WIDTH_IN x HEIGHT_IN inches at DPI; raises PlottingUnavailable."""
    status = obj.get("status") or {}
    timeline = status.get("timeline")
    if not timeline or not timeline.get("points"):
        raise PlottingUnavailable(f"no timeline in the status (phase {status.get('phase', 'Pending')}, reason "
                                  f"{status.get('reason', '-')}): nothing was measured to draw")
    plt = _pyplot()
    points = timeline["points"]
    step = float(timeline.get("stepSeconds", 1))
    # Each point covers [t, t + step): draw it at the middle of its step.
    xs = [p["t"] + step / 2 for p in points]
    comparisons = [c for c in status.get("analysis") or [] if c.get("interval") and c.get("tolerance")]
    if comparisons:
        fig = plt.figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        grid = fig.add_gridspec(2, 2, width_ratios=[3, 1], height_ratios=[3, 2])
        lat = fig.add_subplot(grid[0, 0])
        err = fig.add_subplot(grid[1, 0], sharex=lat)
        _comparisons(fig.add_subplot(grid[:, 1]), comparisons)
    else:
        fig, (lat, err) = plt.subplots(2, 1, sharex=True, figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI,
                                       gridspec_kw={"height_ratios": [3, 2]})
    try:
        lat.plot(xs, [p.get("p50Ms") for p in points], color="#1565c0", marker=".", label="p50")
        lat.plot(xs, [p.get("p95Ms") for p in points], color="#ef6c00", marker=".", label="p95")
        limit = _ms((obj.get("spec") or {}).get("slos", {}).get("maxLatencyP95"))
        if limit is not None:
            lat.axhline(limit, color="#ef6c00", linestyle=":", linewidth=1, label="maxLatencyP95")
        lat.set_ylabel("latency (ms)")
        highest = max([p.get("p95Ms") or 0.0 for p in points] + [limit or 0.0])
        lat.set_ylim(bottom=0, top=max(1.0, highest * 1.35))  # headroom: the legend sits above the lines
        rates = [100.0 * p["errors"] / p["requests"] if p["requests"] else None for p in points]
        err.plot(xs, rates, color="#c62828", marker=".", label="error rate")
        max_rate = (obj.get("spec") or {}).get("slos", {}).get("maxErrorRate")
        if isinstance(max_rate, int | float):
            err.axhline(100.0 * max_rate, color="#c62828", linestyle=":", linewidth=1, label="maxErrorRate")
        err.set_ylabel("errors (% of requests)")
        highest = max([r or 0.0 for r in rates] + [100.0 * max_rate if isinstance(max_rate, int | float) else 0.0])
        err.set_ylim(bottom=0, top=max(5.0, highest * 1.35))
        err.set_xlabel(f"seconds since the baseline started ({timeline.get('startedAt', '')}); "
                       f"one point per {step:g} s")
        for ax in (lat, err):
            _windows(ax, timeline, labels=ax is lat)
            _marks(ax, timeline, legend=ax is lat)
            ax.grid(True, alpha=0.3)
        lat.legend(loc="upper left", fontsize=8, ncols=4)
        _holding(err, status, timeline, xs[-1] + step / 2)
        err.legend(loc="upper left", fontsize=8, ncols=4)
        verdict = status.get("verdict")
        fig.suptitle(title(obj), color=VERDICT_COLOURS.get(str(verdict), "#333333"), fontsize=12)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()
    finally:
        plt.close(fig)


CLASS_COLOURS = {"Degraded": "#c62828", "Equivalent": "#2e7d32", "Inconclusive": "#8d6e00"}


def _comparisons(ax: Any, comparisons: list[dict[str, Any]]) -> None:
    """Each comparison's interval and estimate in units of its tolerance, against the shaded ±tolerance band."""
    ax.axvspan(-1.0, 1.0, color="#e8f5e9", linewidth=0)
    ax.axvline(0.0, color="#999999", linewidth=0.8)
    labels = []
    for row, c in enumerate(comparisons):
        tolerance = float(c["tolerance"])
        lo, hi = (float(v) / tolerance for v in c["interval"])
        colour = CLASS_COLOURS.get(c["class"], "#555555")
        ax.plot([lo, hi], [row, row], color=colour, linewidth=2.5)
        if c.get("estimate") is not None:
            ax.plot([float(c["estimate"]) / tolerance], [row], marker="o", color=colour)
        phase = "chaos" if c["comparison"] == "baselineVsChaos" else "recovery"
        labels.append(f"{phase} {c['metric'].removeprefix('latency')}")
    ax.set_yticks(range(len(comparisons)), labels, fontsize=7)
    ax.set_ylim(max(len(comparisons), 8) - 0.5, -0.5)  # top down; a few rows do not stretch
    ax.set_xlabel("change / tolerance (band: ±1)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title("vs baseline", fontsize=9)


def _windows(ax: Any, timeline: dict[str, Any], labels: bool) -> None:
    for window in timeline.get("windows") or []:
        if window["phase"] == "chaos":
            ax.axvspan(window["start"], window["end"], color="#ffcdd2", alpha=0.5, linewidth=0)
        elif window["phase"] == "recovery":
            ax.axvspan(window["start"], window["end"], color="#c8e6c9", alpha=0.35, linewidth=0)
    top = ax.get_ylim()[1]
    for window in (timeline.get("windows") or []) if labels else []:
        ax.text((window["start"] + window["end"]) / 2, top, window["phase"], ha="center", va="bottom",
                fontsize=8, color="#555555")


def _marks(ax: Any, timeline: dict[str, Any], legend: bool) -> None:
    seen: set[str] = set()
    for mark in timeline.get("marks") or []:
        injected = mark["kind"] == "Injected"
        label = "injected" if injected else "recovered"
        ax.axvline(mark["t"], color="#b71c1c" if injected else "#1b5e20", linestyle="--" if injected else "-.",
                   linewidth=1.2, label=label if legend and label not in seen else "_nolegend_")
        seen.add(label)


def _holding(ax: Any, status: dict[str, Any], timeline: dict[str, Any], end_s: float) -> None:
    """Targets holding the fault, on a right-hand axis of the error plot: the time the verdict stands on."""
    started = timeline.get("startedAt")
    steps = held.holding(held.intervals(status.get("injections") or [], started, end_s)) if started else []
    if not steps:
        return
    right = ax.twinx()
    right.step([t for t, _ in steps], [n for _, n in steps], where="post", color="#6a1b9a", linewidth=1.5,
               label="targets holding the fault")
    right.set_ylim(bottom=0, top=max(n for _, n in steps) * 1.35)
    right.set_ylabel("targets holding", color="#6a1b9a", fontsize=8)
    right.tick_params(axis="y", labelsize=7, colors="#6a1b9a")
    right.legend(loc="upper right", fontsize=8)


def _ms(duration: Any) -> float | None:
    if not isinstance(duration, str):
        return None
    from chaos_operator.models.duration import parse_duration

    try:
        return parse_duration(duration) * 1000.0
    except ValueError:
        return None
