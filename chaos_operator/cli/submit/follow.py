"""`submit --wait`: follow one experiment to its end, print progress, map the outcome to an exit code, and write
JUnit XML for CI systems."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

EXIT_PASSED, EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_ERROR, EXIT_TIMEOUT = 0, 1, 2, 3, 4
EXIT_CODES_HELP = """exit codes (with --wait):
  0  Passed (also a dry run, which completes without a verdict)
  1  Failed: an SLO check failed
  2  Inconclusive: e.g. an unhealthy baseline, too few samples, or an SLO check its interval cannot decide
  3  Aborted, or an error: invalid input (nothing created), the experiment Failed to run (e.g. NoTargets),
     was deleted, the API could not be reached, or a scheduled run was refused because the previous run
     of the same --schedule is still running
  4  timeout: --timeout passed before the experiment finished (it keeps running unless --abort-on-timeout)
without --wait: 0 once created, 3 on an error"""
PHASES = ("baseline", "chaos", "recovery")
TERMINAL = ("Completed", "Aborted", "Failed")

Fetch = Callable[[], Awaitable[dict[str, Any] | None]]


def exit_code(status: dict[str, Any]) -> int:
    phase = status.get("phase")
    if phase == "Completed":
        return {"Passed": EXIT_PASSED, "Failed": EXIT_FAILED, "Inconclusive": EXIT_INCONCLUSIVE,
                None: EXIT_PASSED}.get(status.get("verdict"), EXIT_ERROR)
    return EXIT_ERROR


def phase_line(name: str, ph: dict[str, Any]) -> str:
    lat = ph.get("latency") or {}
    figures = f"p50 {lat['p50']}, p95 {lat['p95']}" if lat else "no latency"
    return (f"{name} figures: {ph['requests']} requests, {ph['errors']} errors ({ph['errorRate']:.2%}), "
            f"{figures}, {ph['throughput']:.1f} req/s")


@dataclass
class Progress:
    """Prints what changed since the last look: phase, each phase's figures once, injection states."""

    out: TextIO
    started: float = field(default_factory=time.monotonic)
    phase: str | None = None
    figures: set[str] = field(default_factory=set)
    injections: dict[str, int] = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", file=self.out, flush=True)

    def show(self, status: dict[str, Any]) -> None:
        # Figures first: a poll that sees a phase's figures and the next phase at once prints them in that order.
        for name in PHASES:
            ph = (status.get("phases") or {}).get(name)
            if ph and name not in self.figures:
                self.figures.add(name)
                self.say(phase_line(name, ph))
        phase = str(status.get("phase", "Pending"))
        if phase != self.phase:
            self.phase = phase
            detail = status.get("message") or ""
            if phase in TERMINAL:
                detail = f"verdict {status.get('verdict', '-')} ({status.get('reason', '-')}): {detail}"
            self.say(f"{phase:<10} {detail}".rstrip())
        counts: dict[str, int] = {}
        for rec in status.get("injections") or []:
            counts[rec.get("state", "?")] = counts.get(rec.get("state", "?"), 0) + 1
        if counts != self.injections:
            self.injections = counts
            self.say("injections: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))


async def follow(fetch: Fetch, progress: Progress, timeout_s: float, poll_s: float = 0.5) -> tuple[int, dict[str, Any]]:
    """(exit code, last object seen) once the experiment is finished, gone, or the timeout passed."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while True:
        obj = await fetch()
        if obj is None:
            progress.say("the experiment was deleted before it finished")
            return EXIT_ERROR, last
        last = obj
        status = obj.get("status") or {}
        progress.show(status)
        if status.get("phase") in TERMINAL:
            return exit_code(status), obj
        if time.monotonic() >= deadline:
            progress.say(f"timed out after {timeout_s:g}s; the experiment is still {status.get('phase', 'Pending')}")
            return EXIT_TIMEOUT, obj
        await asyncio.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))


def junit(obj: dict[str, Any], code: int, path: str) -> None:
    """One test case per check; when the run ended without checks to show why, or without a verdict (abort,
    error, timeout), one more case `verdict` carries the outcome."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    ident = f"{meta.get('namespace')}/{meta.get('name')}"
    suite = TestSuite(f"chaos-operator {ident}")
    for key in ("phase", "verdict", "reason", "score", "grade", "recoveryTime"):
        if key in status:
            suite.add_property(key, str(status[key]))
    classname = f"chaosexperiment.{meta.get('namespace')}.{meta.get('name')}"
    for check in status.get("checks") or []:
        case = TestCase(f"{check['name']} ({check['phase']})", classname=classname)
        case.system_out = f"observed {check['observed']}, limit {check['limit']}"
        if check.get("inconclusive"):  # low load coverage: neither passed nor failed
            case.result = [Skipped(f"{check['name']} in {check['phase']}: {check['inconclusive']}")]
        elif not check.get("passed"):
            case.result = [Failure(f"{check['name']} in {check['phase']}: observed {check['observed']}, "
                                   f"limit {check['limit']}")]
        suite.add_testcase(case)
    if code in (EXIT_ERROR, EXIT_TIMEOUT) or not status.get("checks"):
        case = TestCase("verdict", classname=classname)
        why = f"{status.get('phase', 'Pending')} {status.get('reason', '')}: {status.get('message', '')}".strip()
        if code == EXIT_TIMEOUT:
            case.result = [Error(f"timed out while the experiment was {status.get('phase', 'Pending')}")]
        elif code == EXIT_ERROR:
            case.result = [Error(why)]
        elif code == EXIT_FAILED:
            case.result = [Failure(why)]
        elif code == EXIT_INCONCLUSIVE:
            case.result = [Skipped(why)]
        suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]  # totals on <testsuites>, read by some CI systems
    xml.write(path, pretty=True)
