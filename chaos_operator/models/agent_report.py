"""The agent's report: the one JSON line a helper pod's agent prints when it ends (its termination message).

The agent (agent/) fills it in as it goes and prints it; the operator (faults/helpers/report.py) reads it back.
The wire keys are snake_case, as the agent has always printed them.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, ValidationError


class ReportScope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destinations: list[str]
    ports: list[int]
    direction: str


class AgentReport(BaseModel):
    # Mutable with checked assignment: the agent records each step as it happens. Unknown keys are kept when
    # read, so an operator older than its helper image still reads what it knows.
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    fault: str | None = None
    state: str  # invalid | refused | cancelled | applied | reverted | absent | completed | stopped | failed | …
    pid: int | None = None
    device: str | None = None
    applied_at: str | None = None
    reverted_at: str | None = None
    error: str | None = None
    reason: str | None = None
    qdisc: str | None = None  # the tc arguments of a network fault
    scope: ReportScope | None = None
    ended_by: str | None = None  # deadline | SIGTERM | SIGINT | overrun
    revert: str | None = None  # what the revert found
    exit_status: int | None = None  # stress-ng's
    cgroups: list[str] | None = None  # the target's cgroups stress-ng ran in ("memory:/kubepods/…")
    workers: dict[str, dict[str, int | None]] | None = None
    workers_started: int | None = None
    workers_completed: int | None = None
    workers_failed: int | None = None

    def to_line(self) -> str:
        """The JSON line: every field the agent set (the first ones always), none it did not."""
        return json.dumps(self.model_dump(mode="json", exclude_unset=True), separators=(",", ":"))

    def describe(self) -> str:
        text = f"agent {self.state}"
        if self.reason:
            text += f" ({self.reason})"
        if self.error:
            text += f": {self.error}"
        return text

    @classmethod
    def parse(cls, text: str | None) -> AgentReport | None:
        """The last report line of a termination message, or None when there is none (empty, or cut by the
        kubelet). A line with a string ``state`` is a report even when other fields do not fit (version skew):
        then only its state, reason and error are read."""
        for line in reversed((text or "").strip().splitlines()):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if not isinstance(data, dict) or not isinstance(data.get("state"), str):
                continue
            try:
                return cls.model_validate(data)
            except ValidationError:
                return cls(state=data["state"], **{key: data[key] for key in ("reason", "error")
                                                   if isinstance(data.get(key), str)})
        return None
