"""Pure reading of a helper pod's status and of the agent's report (its termination message).

The agent (chaos_operator/agent) prints one JSON line when it ends, on stdout and in the termination log; the
kubelet copies the log into ``status.containerStatuses[].state.terminated.message``. It cannot write to the
API (no token); while it holds the fault it says so through its readiness: it creates its ready file only once the
fault is in place (and removes it first when it reverts), and the pod's exec readinessProbe tests that file, so
``containerStatuses[].ready`` is true exactly while the fault is in effect (see faults/helpers/pod.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaos_operator.models.agent_report import AgentReport
from chaos_operator.targeting.pods import pod_info

# Report states that leave something of ours behind: the revert failed, or the agent never got to it.
UNCLEAN = frozenset({"revert-failed", "applied"})
CLEAN_REVERT = frozenset({"reverted", "absent"})  # a revert-only helper's run
GONE_REASONS = frozenset({"TargetNotFound", "TargetGone"})  # the pod's namespace, and our qdisc, are gone
# Waiting reasons that fail the injection at once instead of waiting out the timeout. An image that cannot be
# pulled (ErrImagePull, then ImagePullBackOff) may come right later, but a chaos window should not be spent on it:
# the injection fails now with the kubelet's reason, and the helper pod is deleted.
HOPELESS_WAITING = frozenset({"InvalidImageName", "ErrImagePull", "ImagePullBackOff",
                              "CreateContainerConfigError", "CreateContainerError"})


@dataclass(frozen=True)
class HelperView:
    phase: str  # Pending | Running | Succeeded | Failed | Unknown
    running: bool  # the agent's container is running
    ready: bool  # ...and its readiness probe passes: the agent has applied the fault and holds it
    deleting: bool
    terminated: bool
    exit_code: int | None = None
    report: AgentReport | None = None
    waiting_reason: str | None = None
    message: str = ""  # the pod's or the container's own words, when there is no report


def view(pod: dict[str, Any]) -> HelperView:
    status = pod.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    statuses = status.get("containerStatuses") or []
    state = (statuses[0].get("state") or {}) if statuses else {}
    terminated = state.get("terminated")
    waiting = state.get("waiting") or {}
    deleting = pod_info(pod).terminating
    if isinstance(terminated, dict):
        message = str(terminated.get("message") or "")
        code = terminated.get("exitCode")
        return HelperView(phase=phase, running=False, ready=False, deleting=deleting, terminated=True,
                          exit_code=code if isinstance(code, int) else None, report=AgentReport.parse(message),
                          message=str(terminated.get("reason") or status.get("message") or ""))
    if phase in ("Succeeded", "Failed"):  # e.g. DeadlineExceeded before the container ever reported
        return HelperView(phase=phase, running=False, ready=False, deleting=deleting, terminated=True,
                          message=f"{status.get('reason') or phase}: {status.get('message') or ''}".strip(": "))
    running = phase == "Running" and "running" in state
    return HelperView(phase=phase, running=running, ready=running and _ready(status, statuses[0]),
                      deleting=deleting, terminated=False,
                      waiting_reason=str(waiting["reason"]) if waiting.get("reason") else None,
                      message=str(waiting.get("message") or ""))


def _ready(status: dict[str, Any], container: dict[str, Any]) -> bool:
    """The container's own `ready` flag, and the pod's Ready condition when the kubelet wrote one: both must agree
    (a kubelet sets them together; either saying no means the probe has not passed, or no longer does)."""
    if container.get("ready") is not True:
        return False
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == "Ready"]
    return all(c.get("status") == "True" for c in conditions)


def ended_cleanly(v: HelperView, revert: bool = False) -> bool:
    """The helper ended and its report says nothing of ours is left on the target.

    A fault helper's run is clean unless the revert failed: "reverted", "completed" and "stopped" undid the
    fault; "invalid", "refused" and "cancelled" never applied it; "failed" is reported only after the revert
    (network) or after stress-ng's process group was killed (stress). No report at all (SIGKILL, OOM) is not
    clean: a qdisc outlives the process that added it.
    """
    if not v.terminated or v.report is None:
        return False
    if revert:
        return v.report.state in CLEAN_REVERT or v.report.reason in GONE_REASONS
    return v.report.state not in UNCLEAN


def failure_text(v: HelperView) -> str:
    """Why a helper that ended (or cannot start) did not do its job, in one line."""
    if v.report is not None:
        return v.report.describe()
    if v.waiting_reason:
        return f"container cannot start: {v.waiting_reason} {v.message}".strip()
    code = f" with exit code {v.exit_code}" if v.exit_code is not None else ""
    return f"helper ended{code} without a report {v.message}".strip()
