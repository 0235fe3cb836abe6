"""`python -m chaos_operator.agent netem|bandwidth|stress …`: parse, validate, run, report.

Every outcome, bad arguments included, ends with one JSON line on stdout (and in the
termination log), and an exit code from `runner`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from chaos_operator.agent import procfs, runner, tc
from chaos_operator.models.duration import parse_duration

DEFAULT_TERMINATION_LOG = "/dev/termination-log"
SECONDS_RE = re.compile(r"^[0-9]{1,6}(\.[0-9]{1,3})?$")
MAX_DURATION = 86400.0


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def duration(text: str) -> float:
    """Seconds, given as a plain number (`120`) or one of our durations (`2m`)."""
    seconds = float(text) if SECONDS_RE.fullmatch(text) else parse_duration(text)
    if not 0 < seconds <= MAX_DURATION:
        raise ValueError(f"duration {text!r} must be between 1ms and 24h")
    return seconds


def build_parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--pod-uid", help="UID of the target pod (metadata.uid)")
    common.add_argument("--proc-root", default="/proc", help="the host's /proc (hostPID helper pods)")
    common.add_argument("--duration", help="seconds (120) or a duration (2m) to hold the fault")
    common.add_argument("--interface", help="device inside the pod; default: the default route's device")
    common.add_argument("--termination-log", default=DEFAULT_TERMINATION_LOG, help="also write the report here")
    common.add_argument("--revert-only", action="store_true", help="remove our qdisc from the target and exit")

    parser = Parser(prog="python -m chaos_operator.agent", description="chaos-operator helper-pod agent")
    sub = parser.add_subparsers(dest="fault", required=True)
    netem = sub.add_parser("netem", parents=[common], help="add latency with a netem qdisc")
    netem.add_argument("--latency", help="added delay, e.g. 100ms")
    netem.add_argument("--jitter", help="delay variation, e.g. 10ms")
    netem.add_argument("--correlation", help="jitter correlation in percent (0-100); needs --jitter")
    bandwidth = sub.add_parser("bandwidth", parents=[common], help="limit egress rate with a tbf qdisc")
    bandwidth.add_argument("--rate", help="egress rate, e.g. 512kbit, 2mbit, 1gbit")
    bandwidth.add_argument("--burst", type=int, help="token bucket size in bytes (default ~10 ms of traffic)")
    bandwidth.add_argument("--limit", type=int, help="queue size in bytes (default ~100 ms of traffic)")
    stress = sub.add_parser("stress", parents=[common], help="run stress-ng in this pod")
    stress.add_argument("--cpu", type=int, default=0, help="CPU workers")
    stress.add_argument("--cpu-load", type=int, default=100, help="percent load per CPU worker")
    stress.add_argument("--vm", type=int, default=0, help="memory workers")
    stress.add_argument("--vm-bytes", default="256M", help="memory per vm worker, e.g. 256M, 1G, 50%%")
    return parser


def _require(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) is None:
            raise UsageError(f"--{name.replace('_', '-')} is required for {args.fault}")


def dispatch(args: argparse.Namespace, report: dict[str, Any]) -> int:
    proc_root = tc.proc_root(args.proc_root)
    interface = tc.interface(args.interface) if args.interface is not None else None
    if args.fault == "stress":
        if args.revert_only:
            raise UsageError("--revert-only is for netem and bandwidth; a stress pod is simply deleted")
        _require(args, "duration")
        seconds = duration(args.duration)
        return runner.run_stress(report, seconds, cpu=args.cpu, cpu_load=args.cpu_load, vm=args.vm,
                                 vm_bytes=args.vm_bytes)
    _require(args, "pod_uid")
    uid = procfs.pod_uid(args.pod_uid)
    if args.revert_only:
        return runner.revert_only(report, uid, proc_root, interface)
    _require(args, "duration", "latency" if args.fault == "netem" else "rate")
    qdisc: tc.Qdisc = (
        tc.netem(args.latency, args.jitter, args.correlation)
        if args.fault == "netem"
        else tc.tbf(args.rate, args.burst, args.limit)
    )
    return runner.shape(report, uid, qdisc, duration(args.duration), proc_root, interface)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    fault = argv[0] if argv and argv[0] in {"netem", "bandwidth", "stress"} else None
    report: dict[str, Any] = {"fault": fault, "state": "invalid", "pid": None, "device": None,
                              "applied_at": None, "reverted_at": None, "error": None, "reason": None}
    termination_log, create = DEFAULT_TERMINATION_LOG, False
    code = runner.EXIT_OK
    try:
        args = build_parser().parse_args(argv)
        termination_log, create = args.termination_log, args.termination_log != DEFAULT_TERMINATION_LOG
        code = dispatch(args, report)
    except (UsageError, ValueError) as exc:
        report.update(state="invalid", reason="BadArguments", error=str(exc))
        code = runner.EXIT_USAGE
    except runner.AgentFailure as exc:
        states = {runner.EXIT_NOT_FOUND: "refused", runner.EXIT_FOREIGN: "refused", runner.EXIT_REVERT: "revert-failed"}
        report.update(state=states.get(exc.code, "failed"), reason=exc.reason, error=exc.message)
        code = exc.code
    except Exception as exc:  # still one JSON line, so the operator learns why
        report.update(state="failed", reason="InternalError", error=repr(exc))
        code = runner.EXIT_INTERNAL
    runner.emit(report, termination_log, create)
    return code
