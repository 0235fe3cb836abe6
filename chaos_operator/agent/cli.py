"""`python -m chaos_operator.agent MODE …`: parse with the table of modes (modes.py), plan, run, report.

Every outcome, bad arguments included, ends with one JSON line on stdout (and in the
termination log), and an exit code from `base`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from chaos_operator.agent import runner
from chaos_operator.agent.base import (
    EXIT_FOREIGN,
    EXIT_INTERNAL,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REVERT,
    EXIT_USAGE,
    AgentFailure,
)
from chaos_operator.agent.modes import DEFAULT_TERMINATION_LOG, MODES, Revert, Shape, Stress, UsageError, plan
from chaos_operator.agent.modes import build_parser as build_parser
from chaos_operator.agent.modes import duration as duration
from chaos_operator.models.agent_report import AgentReport


def dispatch(args: argparse.Namespace, report: AgentReport) -> int:
    what = plan(args)
    if isinstance(what, Stress):
        return runner.run_stress(report, what.seconds, what.ready_file, what.into, cpu=what.cpu,
                                 cpu_load=what.cpu_load, vm=what.vm, vm_bytes=what.vm_bytes)
    if isinstance(what, Revert):
        return runner.revert_only(report, what.pod_uid, what.proc_root, what.interface, what.owner)
    assert isinstance(what, Shape)
    return runner.shape(report, what.pod_uid, what.qdisc, what.seconds, what.proc_root, what.interface, what.scope,
                        what.owner, what.ready_file)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    fault = argv[0] if argv and argv[0] in MODES else None
    # These fields are always in the report, null when not known.
    report = AgentReport(fault=fault, state="invalid", pid=None, device=None, applied_at=None, reverted_at=None,
                         error=None, reason=None)
    termination_log, create = DEFAULT_TERMINATION_LOG, False
    code = EXIT_OK
    try:
        args = build_parser().parse_args(argv)
        termination_log, create = args.termination_log, args.termination_log != DEFAULT_TERMINATION_LOG
        code = dispatch(args, report)
    except (UsageError, ValueError) as exc:
        report.state, report.reason, report.error = "invalid", "BadArguments", str(exc)
        code = EXIT_USAGE
    except AgentFailure as exc:
        states = {EXIT_NOT_FOUND: "refused", EXIT_FOREIGN: "refused", EXIT_REVERT: "revert-failed"}
        report.state, report.reason, report.error = states.get(exc.code, "failed"), exc.reason, exc.message
        code = exc.code
    except Exception as exc:  # still one JSON line, so the operator learns why
        report.state, report.reason, report.error = "failed", "InternalError", repr(exc)
        code = EXIT_INTERNAL
    runner.emit(report, termination_log, create)
    return code
