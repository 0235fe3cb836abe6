"""The effectful half of the agent: run tc/ip/stress-ng, hold until the deadline or a signal,
always revert, and report one JSON line (stdout and the termination log)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from types import FrameType
from typing import Any

from chaos_operator.agent import cgmove, procfs, stress, tc
from chaos_operator.agent.base import (
    EXIT_FOREIGN,
    EXIT_INTERNAL,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REVERT,
    EXIT_STRESS,
    POLL,
    AgentFailure,
    log,
    now,
)
from chaos_operator.agent.ready import ReadyFile
from chaos_operator.agent.scope import Scope
from chaos_operator.agent.shaper import Shaper
from chaos_operator.models.agent_report import AgentReport, ReportScope

STRESS_GRACE = 5.0  # for stress-ng to stop and print its metrics after SIGTERM


class Stopper:
    """SIGTERM/SIGINT only set a flag; the hold loops poll it, so no command is cut in half."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Stopper:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signal = self.signal or signal.Signals(signum).name

    def hold_until(self, deadline: float) -> str:
        while self.signal is None and time.monotonic() < deadline:
            time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
        return self.signal or "deadline"


def _find(pod_uid: str, proc_root: str, report: AgentReport, owner: str | None) -> Shaper:
    try:
        target = procfs.find_target(pod_uid, proc_root)
    except procfs.TargetNotFound as exc:
        raise AgentFailure(EXIT_NOT_FOUND, "TargetNotFound", str(exc)) from None
    report.pid = target.pid
    return Shaper(pod_uid, proc_root, target, owner=owner)


def shape(report: AgentReport, pod_uid: str, qdisc: tc.Qdisc, duration: float, proc_root: str,
          interface: str | None, scope: Scope | None = None, owner: str | None = None,
          ready_file: str | None = None) -> int:
    deadline = time.monotonic() + duration  # counted from start: a slow apply never extends the fault
    report.state, report.qdisc = "refused", " ".join(qdisc.args())
    if scope is not None and (scope.scoped or scope.direction != "egress"):
        report.scope = ReportScope(destinations=list(scope.destinations), ports=list(scope.ports),
                                   direction=scope.direction)
    with Stopper() as stopper:
        shaper = _find(pod_uid, proc_root, report, owner)
        report.device = shaper.resolve_device(interface)
        if stopper.signal:
            report.state, report.ended_by = "cancelled", stopper.signal
            return EXIT_OK
        failure: AgentFailure | None = None
        ready = ReadyFile(ready_file)
        ready.clear()  # nothing is applied yet: no stale file may say otherwise
        try:
            shaper.apply(qdisc, scope)  # applied and verified: only now may the pod become Ready
            report.state, report.applied_at = "applied", now()
            ready.mark()
            log(f"applied {report.qdisc} on {shaper.device} (pid {shaper.target.pid}, {shaper.target.netns})")
            report.ended_by = stopper.hold_until(deadline)
        except AgentFailure as exc:
            failure = exc
        except Exception as exc:  # a bug must still not leave the qdisc behind
            failure = AgentFailure(EXIT_INTERNAL, "InternalError", repr(exc))
        ready.clear()  # the first step of reverting: the pod stops being Ready before the qdisc goes
        if failure and failure.code == EXIT_FOREIGN:
            raise failure  # nothing of ours was touched
        try:
            found = shaper.revert()
        except AgentFailure as exc:
            detail = f"{exc.message}; earlier: {failure.message}" if failure else exc.message
            raise AgentFailure(EXIT_REVERT, "RevertFailed", detail) from None
        report.state, report.reverted_at, report.revert = "reverted" if failure is None else "failed", now(), found
        log(f"revert: {found} on {shaper.device}")
        if failure:
            raise failure
    return EXIT_OK


def revert_only(report: AgentReport, pod_uid: str, proc_root: str, interface: str | None,
                owner: str | None = None) -> int:
    shaper = _find(pod_uid, proc_root, report, owner)
    report.device = shaper.resolve_device(interface)
    found = shaper.revert()
    report.state, report.reverted_at, report.revert = "reverted" if found == "reverted" else "absent", now(), found
    return EXIT_OK


def _start_stress(argv: list[str], cwd: str, output: Any, into: cgmove.Into | None,
                  report: AgentReport) -> subprocess.Popen[bytes] | cgmove.Child:
    """stress-ng started: in the agent's own cgroups, or stopped, moved into the target's, and continued."""
    if into is None:
        try:
            return subprocess.Popen(argv, shell=False, stdout=output, stderr=subprocess.STDOUT, cwd=cwd,
                                    start_new_session=True)
        except OSError as exc:
            raise AgentFailure(EXIT_STRESS, "StressFailed", f"stress-ng: {exc}") from None
    try:
        cgroups = cgmove.target_cgroups(into.pod_uid, into.proc_root)
    except procfs.TargetNotFound as exc:
        raise AgentFailure(EXIT_NOT_FOUND, "TargetNotFound", str(exc)) from None
    except cgmove.MoveFailed as exc:
        raise AgentFailure(EXIT_STRESS, "CgroupMoveFailed", str(exc)) from None
    try:
        child = cgmove.spawn_stopped(argv, cwd, output.fileno())
    except (OSError, cgmove.MoveFailed) as exc:
        raise AgentFailure(EXIT_STRESS, "StressFailed", f"stress-ng: {exc}") from None
    try:
        report.cgroups = cgmove.move(child.pid, cgroups, into.cgroup_root)
    except cgmove.MoveFailed as exc:
        child.send(signal.SIGKILL)  # never let it run outside the target's limits
        child.wait(STRESS_GRACE)
        raise AgentFailure(EXIT_STRESS, "CgroupMoveFailed", str(exc)) from None
    child.send(signal.SIGCONT)
    log(f"stress-ng (pid {child.pid}) moved into {', '.join(report.cgroups)}")
    return child


def run_stress(report: AgentReport, duration: float, ready_file: str | None = None,
               into: cgmove.Into | None = None, **workers: Any) -> int:
    deadline = time.monotonic() + duration + STRESS_GRACE * 2  # stress-ng's own --timeout ends it first
    with Stopper() as stopper, tempfile.TemporaryDirectory(prefix="chaos-stress-") as tmp:
        argv = stress.stress_argv(duration, tmp, **workers)
        output_path = os.path.join(tmp, "stress-ng.log")
        with open(output_path, "w+", encoding="utf-8") as output:
            proc = _start_stress(argv, tmp, output, into, report)
            report.state, report.pid, report.applied_at = "applied", proc.pid, now()
            log(f"started {' '.join(argv)} (pid {proc.pid})")
            ready, wanted = ReadyFile(ready_file), int(workers.get("cpu") or 0) + int(workers.get("vm") or 0)
            ready.clear()  # no stale file may say the workers run
            try:
                while proc.poll() is None and stopper.signal is None and time.monotonic() < deadline:
                    if ready.file is not None and not ready.marked:
                        output.seek(0)  # stress-ng flushes each line; a worker says "started" once it runs
                        if stress.started_workers(output.read()) >= wanted:
                            ready.mark()
                            log(f"all {wanted} stress-ng workers started")
                    time.sleep(POLL)
                ready.clear()  # first: the pod stops being Ready before the workers are stopped
                report.ended_by = stopper.signal or ("deadline" if proc.poll() is not None else "overrun")
                if proc.poll() is None:
                    proc.terminate()  # stress-ng stops its workers and still prints metrics
                    try:
                        proc.wait(STRESS_GRACE)
                    except subprocess.TimeoutExpired:
                        pass
            finally:
                ready.clear()
                _kill_group(proc)
            output.seek(0)
            result = stress.parse_output(output.read())
    report.reverted_at, report.exit_status, report.workers = now(), proc.returncode, result.workers()
    report.workers_started = result.total("started")
    report.workers_completed = result.total("completed")
    report.workers_failed = result.total("failed")
    if stopper.signal is None and result.ok:
        report.state = "completed"
        return EXIT_OK
    if stopper.signal is not None and result.total("failed") == 0 and result.run:
        report.state = "stopped"  # cut short by SIGTERM, but every worker behaved
        return EXIT_OK
    raise AgentFailure(EXIT_STRESS, "WorkersFailed", "; ".join(result.problems()) or "stress-ng failed")


def _kill_group(proc: subprocess.Popen[bytes] | cgmove.Child) -> None:
    """No stress-ng worker may outlive the agent."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def emit(report: AgentReport, termination_log: str, create: bool) -> None:
    """Print the report and write it to the termination log. The default path is only written
    when it exists (the kubelet creates it in every container), so a run outside a pod never
    litters /dev."""
    line = report.to_line()
    print(line, flush=True)
    flags = os.O_WRONLY | os.O_TRUNC | (os.O_CREAT if create else 0)
    try:
        with os.fdopen(os.open(termination_log, flags, 0o644), "w", encoding="utf-8") as handle:
            handle.write(line[:4000] + "\n")  # the kubelet keeps at most 4096 bytes
    except OSError:
        pass  # not in a pod, or not writable: stdout still has it
