"""The agent's one table of modes: each mode's arguments and what its parsed arguments become.

`cli` builds its parser from this table and runs what `plan` returns; the operator's tests parse every argv the
fault modules build with the same parser and `plan`, so the table is the single authority on the agent's command
line. `plan` is pure: it validates every value and executes nothing.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from chaos_operator.agent import cgmove, procfs, ready, scope, stress, tc
from chaos_operator.models.duration import parse_duration

SECONDS_RE = re.compile(r"^[0-9]{1,6}(\.[0-9]{1,3})?$")
MAX_DURATION = 86400.0


class UsageError(Exception):
    pass


def duration(text: str) -> float:
    """Seconds, given as a plain number (`120`) or one of our durations (`2m`)."""
    seconds = float(text) if SECONDS_RE.fullmatch(text) else parse_duration(text)
    if not 0 < seconds <= MAX_DURATION:
        raise ValueError(f"duration {text!r} must be between 1ms and 24h")
    return seconds


@dataclass(frozen=True)
class Mode:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    required: tuple[str, ...] = ()
    qdisc: Callable[[argparse.Namespace], tc.Qdisc] | None = None  # network modes; None: stress
    needs_destinations: bool = False


def _netem_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--latency", help="added delay, e.g. 100ms")
    p.add_argument("--jitter", help="delay variation, e.g. 10ms")
    p.add_argument("--correlation", help="jitter correlation in percent (0-100); needs --jitter")


def _bandwidth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate", help="egress rate, e.g. 512kbit, 2mbit, 1gbit")
    p.add_argument("--burst", type=int, help="token bucket size in bytes (default ~10 ms of traffic)")
    p.add_argument("--limit", type=int, help="queue size in bytes (default ~100 ms of traffic)")


def _percent_args(*, correlation: bool) -> Callable[[argparse.ArgumentParser], None]:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--percent", help="share of packets, in percent (more than 0, at most 100)")
        if correlation:
            p.add_argument("--correlation", help="percent by which each packet's fate depends on the previous one's")
    return add


def _stress_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cpu", type=int, default=0, help="CPU workers")
    p.add_argument("--cpu-load", type=int, default=100, help="percent load per CPU worker")
    p.add_argument("--vm", type=int, default=0, help="memory workers")
    p.add_argument("--vm-bytes", default="256M", help="memory per vm worker, e.g. 256M, 1G, 50%%")
    p.add_argument("--pod-uid", help="run stress-ng in this pod's container cgroups (default: in the agent's own)")
    p.add_argument("--proc-root", default="/proc", help="the host's /proc, to find the pod's processes")
    p.add_argument("--cgroup-root", default="/sys/fs/cgroup", help="the host's cgroupfs, to move stress-ng into")


MODES: dict[str, Mode] = {m.name: m for m in (
    Mode("netem", "add latency with a netem qdisc", _netem_args, ("latency",),
         lambda a: tc.netem(a.latency, a.jitter, a.correlation)),
    Mode("bandwidth", "limit the rate with a tbf qdisc", _bandwidth_args, ("rate",),
         lambda a: tc.tbf(a.rate, a.burst, a.limit)),
    Mode("loss", "drop a share of packets (netem loss)", _percent_args(correlation=True), ("percent",),
         lambda a: tc.loss(a.percent, a.correlation)),
    Mode("corrupt", "corrupt a share of packets (netem corrupt)", _percent_args(correlation=False), ("percent",),
         lambda a: tc.corrupt(a.percent)),
    Mode("duplicate", "duplicate a share of packets (netem duplicate)", _percent_args(correlation=False),
         ("percent",), lambda a: tc.duplicate(a.percent)),
    Mode("partition", "drop every packet to (and with --direction both, from) the destinations",
         lambda p: None, (), lambda a: tc.Blackhole(), needs_destinations=True),
    Mode("stress", "run stress-ng (inside the target pod's cgroups with --pod-uid)", _stress_args),
)}
NETWORK_MODES = frozenset(name for name, m in MODES.items() if m.qdisc is not None)
DEFAULT_TERMINATION_LOG = "/dev/termination-log"


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--duration", help="seconds (120) or a duration (2m) to hold the fault")
    common.add_argument("--termination-log", default=DEFAULT_TERMINATION_LOG, help="also write the report here")
    common.add_argument("--ready-file", help="create this file once the fault is in effect, remove it first when "
                                             "reverting (the pod's readinessProbe tests it)")
    network = Parser(add_help=False)
    network.add_argument("--pod-uid", help="UID of the target pod (metadata.uid)")
    network.add_argument("--proc-root", default="/proc", help="the host's /proc (hostPID helper pods)")
    network.add_argument("--interface", help="device inside the pod; default: the default route's device")
    network.add_argument("--revert-only", action="store_true", help="remove our fault from the target and exit")
    network.add_argument("--owner", help="UID of the experiment: the marker that keeps experiments apart")
    network.add_argument("--destination", action="append", help="peer CIDR the fault is limited to (repeatable)")
    network.add_argument("--port", action="append", type=int, help="peer port the fault is limited to (repeatable)")
    network.add_argument("--direction", choices=scope.DIRECTIONS, help="egress (default), ingress or both")

    parser = Parser(prog="python -m chaos_operator.agent", description="chaos-operator helper-pod agent")
    sub = parser.add_subparsers(dest="fault", required=True)
    for mode in MODES.values():
        parents = [common, network] if mode.qdisc is not None else [common]
        mode.arguments(sub.add_parser(mode.name, parents=parents, help=mode.help))
    return parser


@dataclass(frozen=True)
class Stress:
    seconds: float
    cpu: int
    cpu_load: int
    vm: int
    vm_bytes: str
    ready_file: str | None = None
    into: cgmove.Into | None = None  # None: stress-ng stays in the agent's own cgroups


@dataclass(frozen=True)
class Shape:
    pod_uid: str
    proc_root: str
    interface: str | None
    owner: str | None
    qdisc: tc.Qdisc
    seconds: float
    scope: scope.Scope
    ready_file: str | None = None


@dataclass(frozen=True)
class Revert:
    pod_uid: str
    proc_root: str
    interface: str | None
    owner: str | None


Plan = Stress | Shape | Revert


def _require(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) is None:
            raise UsageError(f"--{name.replace('_', '-')} is required for {args.fault}")


def plan(args: argparse.Namespace) -> Plan:
    """What the parsed arguments ask for, every value validated; raises UsageError or ValueError."""
    mode = MODES[args.fault]
    ready_file = ready.path(args.ready_file) if args.ready_file is not None else None
    if mode.qdisc is None:
        _require(args, "duration")
        seconds = duration(args.duration)
        # Bandit B108 here: a placeholder path in an argv that is only validated, never run or opened.
        stress.stress_argv(seconds, "/tmp/x", cpu=args.cpu, cpu_load=args.cpu_load, vm=args.vm,  # nosec B108
                           vm_bytes=args.vm_bytes)  # validates the values; nothing runs
        into = None
        if args.pod_uid is not None:
            into = cgmove.Into(procfs.pod_uid(args.pod_uid), tc.proc_root(args.proc_root),
                               tc.proc_root(args.cgroup_root))
        return Stress(seconds, args.cpu, args.cpu_load, args.vm, args.vm_bytes, ready_file, into)
    root = tc.proc_root(args.proc_root)
    interface = tc.interface(args.interface) if args.interface is not None else None
    owner = scope.owner(args.owner) if args.owner is not None else None
    _require(args, "pod_uid")
    uid = procfs.pod_uid(args.pod_uid)
    if args.revert_only:  # holds nothing, so it never becomes "ready"; a --ready-file is accepted and unused
        return Revert(uid, root, interface, owner)
    _require(args, "duration", *mode.required)
    s = scope.scope(args.destination, args.port, args.direction)
    if mode.needs_destinations and not s.destinations:
        raise UsageError(f"--destination is required for {args.fault}")
    return Shape(uid, root, interface, owner, mode.qdisc(args), duration(args.duration), s, ready_file)
