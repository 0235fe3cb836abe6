"""Reading a helper pod's status and the agent's report (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaos_operator.faults.helpers.report import ended_cleanly, failure_text, view
from chaos_operator.models.agent_report import AgentReport, ReportScope


def pod(phase: str = "Running", state: dict[str, Any] | None = None, deleting: bool = False,
        **status: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "h"}
    if deleting:
        meta["deletionTimestamp"] = "2025-03-04T10:00:00Z"
    statuses = [{"name": "agent", "state": state}] if state is not None else []
    return {"metadata": meta, "status": {"phase": phase, "containerStatuses": statuses, **status}}


def ended(report: dict[str, Any] | str | None, code: int = 0, reason: str = "Completed") -> dict[str, Any]:
    message = report if isinstance(report, str) or report is None else json.dumps(report) + "\n"
    term: dict[str, Any] = {"exitCode": code, "reason": reason}
    if message is not None:
        term["message"] = message
    return pod("Succeeded" if code == 0 else "Failed", {"terminated": term})


@pytest.mark.parametrize(("text", "state"), [
    ('{"fault":"netem","state":"reverted","reason":null}\n', "reverted"),
    ('chaos-agent: noise\n{"state":"revert-failed","reason":"RevertFailed","error":"tc: busy"}', "revert-failed"),
    ('{"state":"completed"}\n{"truncated', "completed"),
    ("", None), (None, None), ("not json", None), ('["state"]', None), ('{"state": 3}', None),
])
def test_parse_report(text: str | None, state: str | None) -> None:
    report = AgentReport.parse(text)
    assert (report.state if report else None) == state


def test_a_report_the_agent_prints_is_the_report_the_operator_reads() -> None:
    sent = AgentReport(fault="netem", state="reverted", pid=7, device=None, applied_at=None, reverted_at=None,
                       error=None, reason=None)
    sent.qdisc, sent.scope = "netem delay 100ms", ReportScope(destinations=["10.0.0.0/8"], ports=[80],
                                                              direction="egress")
    line = sent.to_line()
    assert json.loads(line)["device"] is None and "ended_by" not in json.loads(line)  # set fields only
    assert AgentReport.parse(f"noise\n{line}\n") == sent


def test_a_report_from_another_agent_version_still_gives_its_state() -> None:
    read = AgentReport.parse('{"state":"reverted","pid":"seven","reason":"Done","error":7,"new_field":1}')
    assert read is not None and (read.state, read.reason, read.error, read.pid) == ("reverted", "Done", None, None)
    assert AgentReport.parse('{"state":"applied","new_field":[1]}') is not None


def test_views() -> None:
    assert view(pod("Pending", {"waiting": {"reason": "ContainerCreating"}})).running is False
    assert view(pod("Pending", {"waiting": {"reason": "ContainerCreating"}})).waiting_reason == "ContainerCreating"
    running = view(pod("Running", {"running": {"startedAt": "x"}}))
    assert running.running and not running.terminated and not running.deleting
    assert view(pod("Running", {"running": {}}, deleting=True)).deleting
    assert view(pod("Pending")).running is False  # no container status yet
    deadline = view(pod("Failed", None, reason="DeadlineExceeded", message="Pod was active too long"))
    assert deadline.terminated and deadline.report is None and "DeadlineExceeded" in deadline.message
    oom = view(ended(None, 137, "OOMKilled"))
    assert oom.terminated and oom.exit_code == 137 and oom.report is None


@pytest.mark.parametrize(("report", "clean", "clean_revert"), [
    ({"state": "reverted", "revert": "reverted"}, True, True),
    ({"state": "completed"}, True, False),
    ({"state": "stopped"}, True, False),
    ({"state": "cancelled"}, True, False),
    ({"state": "refused", "reason": "TargetNotFound"}, True, True),  # nothing was ever applied / nothing to revert
    ({"state": "invalid", "reason": "BadArguments"}, True, False),
    ({"state": "failed", "reason": "TcFailed", "revert": "reverted"}, True, False),
    ({"state": "absent"}, True, True),
    ({"state": "revert-failed", "reason": "RevertFailed"}, False, False),
    ({"state": "applied"}, False, False),
    (None, False, False),  # SIGKILL or OOM: no report, the qdisc may be left
])
def test_ended_cleanly(report: dict[str, Any] | None, clean: bool, clean_revert: bool) -> None:
    v = view(ended(report))
    assert ended_cleanly(v) is clean
    assert ended_cleanly(v, revert=True) is clean_revert
    assert ended_cleanly(view(pod("Running", {"running": {}}))) is False


def test_failure_text() -> None:
    refused = {"state": "refused", "reason": "ForeignQdisc", "error": "root qdisc htb 1: is not ours"}
    assert failure_text(view(ended(refused, 4))) == "agent refused (ForeignQdisc): root qdisc htb 1: is not ours"
    oom = view(ended(None, 137, "OOMKilled"))
    assert failure_text(oom) == "helper ended with exit code 137 without a report OOMKilled"
    waiting = view(pod("Pending", {"waiting": {"reason": "InvalidImageName", "message": "bad ref"}}))
    assert failure_text(waiting) == "container cannot start: InvalidImageName bad ref"


def ready_pod(ready: bool | None, condition: str | None, phase: str = "Running") -> dict[str, Any]:
    p = pod(phase, {"running": {"startedAt": "x"}})
    if ready is not None:
        p["status"]["containerStatuses"][0]["ready"] = ready
    if condition is not None:
        p["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"},
                                     {"type": "Ready", "status": condition}]
    return p


@pytest.mark.parametrize(("ready", "condition", "expected"), [
    (True, "True", True),  # the probe passed: the agent's ready file exists
    (True, None, True),  # a kubelet that wrote no conditions yet: the container's flag decides
    (False, "False", False),  # running, but the agent has not applied the fault (or reverts it)
    (None, None, False),  # no word on readiness is not a yes
    (True, "False", False),  # the two disagree (a status written in between): not ready
    (False, "True", False),
])
def test_ready_comes_from_the_probe_never_from_running(ready: bool | None, condition: str | None,
                                                        expected: bool) -> None:
    v = view(ready_pod(ready, condition))
    assert v.running and v.ready is expected


def test_ended_or_pending_helpers_are_never_ready() -> None:
    assert view(ready_pod(True, "True", phase="Pending")).ready is False
    gone = ended({"state": "reverted"})
    gone["status"]["containerStatuses"][0]["ready"] = True
    assert view(gone).ready is False
