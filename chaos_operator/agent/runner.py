"""The effectful half of the agent: run tc/ip/stress-ng, hold until the deadline or a signal,
always revert, and report one JSON line (stdout and the termination log)."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

from chaos_operator.agent import procfs, stress, tc

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_FOREIGN = 4
EXIT_TC = 5
EXIT_REVERT = 6
EXIT_STRESS = 7

COMMAND_TIMEOUT = 10.0
POLL = 0.05  # how often the hold loop looks at the clock and the signal flag
STRESS_GRACE = 5.0  # for stress-ng to stop and print its metrics after SIGTERM


class AgentFailure(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log(message: str) -> None:
    print(f"chaos-agent: {message}", file=sys.stderr, flush=True)


def run_command(argv: list[str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, shell=False, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AgentFailure(EXIT_TC, "TcFailed", f"{argv[0]}: {exc}") from None


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


@dataclass
class Shaper:
    """tc operations on one pod's network namespace, re-finding a live PID of that namespace
    before each command: an app container may restart mid-fault, the namespace stays."""

    pod_uid: str
    proc_root: str
    target: procfs.Target
    device: str = ""

    def live_pid(self) -> int | None:
        if procfs.netns_of(self.proc_root, self.target.pid) == self.target.netns:
            return self.target.pid
        for pid in procfs.pod_pids(self.pod_uid, self.proc_root):
            if procfs.netns_of(self.proc_root, pid) == self.target.netns:
                return pid
        return None

    def _pid(self) -> int:
        pid = self.live_pid()
        if pid is None:
            raise AgentFailure(EXIT_NOT_FOUND, "TargetGone", f"the network namespace of pod {self.pod_uid} is gone")
        return pid

    def resolve_device(self, interface: str | None) -> str:
        if interface:
            self.device = tc.interface(interface)
            return self.device
        for family in (4, 6):
            result = run_command(tc.default_route_argv(self._pid(), self.proc_root, family))
            if result.returncode != 0:
                raise AgentFailure(EXIT_TC, "TcFailed", f"ip route: {result.stderr.strip()}")
            try:
                device = tc.parse_default_route(result.stdout)
            except ValueError as exc:
                raise AgentFailure(EXIT_NOT_FOUND, "NoDefaultRoute", str(exc)) from None
            if device:
                self.device = device
                return device
        raise AgentFailure(EXIT_NOT_FOUND, "NoDefaultRoute", "no default route in the pod's network namespace")

    def root(self) -> tc.RootQdisc:
        result = run_command(tc.show_argv(self._pid(), self.device, self.proc_root))
        if result.returncode != 0:
            raise AgentFailure(EXIT_TC, "TcFailed", f"tc qdisc show: {result.stderr.strip()}")
        return tc.parse_qdisc_show(result.stdout)

    def apply(self, qdisc: tc.Qdisc) -> None:
        current = self.root()
        if current.state is tc.RootKind.FOREIGN:
            raise AgentFailure(
                EXIT_FOREIGN, "ForeignQdisc",
                f"root qdisc {current.kind} {current.handle} on {self.device} is not ours; left untouched",
            )
        if current.state is tc.RootKind.OURS and current.kind != qdisc.kind:
            self._delete()  # the kernel refuses to replace a qdisc with one of another kind
        result = run_command(tc.replace_argv(self._pid(), self.device, qdisc, self.proc_root))
        if result.returncode != 0:
            raise AgentFailure(EXIT_TC, "TcFailed", f"tc qdisc replace: {result.stderr.strip()}")
        after = self.root()
        if after.state is not tc.RootKind.OURS or after.kind != qdisc.kind:
            raise AgentFailure(EXIT_TC, "VerifyFailed", f"after replace the root qdisc is {after.kind} {after.handle}")

    def _delete(self) -> None:
        result = run_command(tc.delete_argv(self._pid(), self.device, self.proc_root))
        if result.returncode != 0:
            raise AgentFailure(EXIT_REVERT, "RevertFailed", f"tc qdisc del: {result.stderr.strip()}")

    def revert(self) -> str:
        """Delete our root qdisc if, and only if, the root is ours. Returns what was found."""
        if self.live_pid() is None:
            return "gone"  # the namespace, and our qdisc with it, no longer exists
        try:
            current = self.root()
            if current.state is not tc.RootKind.OURS:
                return "absent"
            self._delete()
            still_ours = self.root().state is tc.RootKind.OURS
        except AgentFailure as exc:
            if "Cannot find device" in exc.message:
                return "gone"  # the device went with the pod's network
            raise AgentFailure(EXIT_REVERT, "RevertFailed", exc.message) from None
        if still_ours:
            raise AgentFailure(EXIT_REVERT, "RevertFailed", f"our qdisc is still the root of {self.device}")
        return "reverted"


def _find(pod_uid: str, proc_root: str, report: dict[str, Any]) -> Shaper:
    try:
        target = procfs.find_target(pod_uid, proc_root)
    except procfs.TargetNotFound as exc:
        raise AgentFailure(EXIT_NOT_FOUND, "TargetNotFound", str(exc)) from None
    report["pid"] = target.pid
    return Shaper(pod_uid, proc_root, target)


def shape(
    report: dict[str, Any], pod_uid: str, qdisc: tc.Qdisc, duration: float, proc_root: str, interface: str | None
) -> int:
    deadline = time.monotonic() + duration  # counted from start: a slow apply never extends the fault
    report.update(state="refused", qdisc=" ".join(qdisc.args()))
    with Stopper() as stopper:
        shaper = _find(pod_uid, proc_root, report)
        report["device"] = shaper.resolve_device(interface)
        if stopper.signal:
            report.update(state="cancelled", ended_by=stopper.signal)
            return EXIT_OK
        failure: AgentFailure | None = None
        try:
            shaper.apply(qdisc)
            report.update(state="applied", applied_at=now())
            log(f"applied {report['qdisc']} on {shaper.device} (pid {shaper.target.pid}, {shaper.target.netns})")
            report["ended_by"] = stopper.hold_until(deadline)
        except AgentFailure as exc:
            failure = exc
        except Exception as exc:  # a bug must still not leave the qdisc behind
            failure = AgentFailure(EXIT_INTERNAL, "InternalError", repr(exc))
        if failure and failure.code == EXIT_FOREIGN:
            raise failure  # nothing of ours was touched
        try:
            found = shaper.revert()
        except AgentFailure as exc:
            detail = f"{exc.message}; earlier: {failure.message}" if failure else exc.message
            raise AgentFailure(EXIT_REVERT, "RevertFailed", detail) from None
        report.update(state="reverted" if failure is None else "failed", reverted_at=now(), revert=found)
        log(f"revert: {found} on {shaper.device}")
        if failure:
            raise failure
    return EXIT_OK


def revert_only(report: dict[str, Any], pod_uid: str, proc_root: str, interface: str | None) -> int:
    shaper = _find(pod_uid, proc_root, report)
    report["device"] = shaper.resolve_device(interface)
    found = shaper.revert()
    report.update(state="reverted" if found == "reverted" else "absent", reverted_at=now(), revert=found)
    return EXIT_OK


def run_stress(report: dict[str, Any], duration: float, **workers: Any) -> int:
    deadline = time.monotonic() + duration + STRESS_GRACE * 2  # stress-ng's own --timeout ends it first
    with Stopper() as stopper, tempfile.TemporaryDirectory(prefix="chaos-stress-") as tmp:
        argv = stress.stress_argv(duration, tmp, **workers)
        output_path = os.path.join(tmp, "stress-ng.log")
        with open(output_path, "w+", encoding="utf-8") as output:
            try:
                proc = subprocess.Popen(argv, shell=False, stdout=output, stderr=subprocess.STDOUT,
                                        cwd=tmp, start_new_session=True)
            except OSError as exc:
                raise AgentFailure(EXIT_STRESS, "StressFailed", f"stress-ng: {exc}") from None
            report.update(state="applied", pid=proc.pid, applied_at=now())
            log(f"started {' '.join(argv)} (pid {proc.pid})")
            try:
                while proc.poll() is None and stopper.signal is None and time.monotonic() < deadline:
                    time.sleep(POLL)
                report["ended_by"] = stopper.signal or ("deadline" if proc.poll() is not None else "overrun")
                if proc.poll() is None:
                    proc.terminate()  # stress-ng stops its workers and still prints metrics
                    try:
                        proc.wait(STRESS_GRACE)
                    except subprocess.TimeoutExpired:
                        pass
            finally:
                _kill_group(proc)
            output.seek(0)
            result = stress.parse_output(output.read())
    report.update(
        reverted_at=now(), exit_status=proc.returncode, workers=result.workers(),
        workers_started=result.total("started"), workers_completed=result.total("completed"),
        workers_failed=result.total("failed"),
    )
    if stopper.signal is None and result.ok:
        report["state"] = "completed"
        return EXIT_OK
    if stopper.signal is not None and result.total("failed") == 0 and result.run:
        report["state"] = "stopped"  # cut short by SIGTERM, but every worker behaved
        return EXIT_OK
    raise AgentFailure(EXIT_STRESS, "WorkersFailed", "; ".join(result.problems()) or "stress-ng failed")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """No stress-ng worker may outlive the agent."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def emit(report: dict[str, Any], termination_log: str, create: bool) -> None:
    """Print the report and write it to the termination log. The default path is only written
    when it exists (the kubelet creates it in every container), so a run outside a pod never
    litters /dev."""
    line = json.dumps(report, separators=(",", ":"))
    print(line, flush=True)
    flags = os.O_WRONLY | os.O_TRUNC | (os.O_CREAT if create else 0)
    try:
        with os.fdopen(os.open(termination_log, flags, 0o644), "w", encoding="utf-8") as handle:
            handle.write(line[:4000] + "\n")  # the kubelet keeps at most 4096 bytes
    except OSError:
        pass  # not in a pod, or not writable: stdout still has it
