"""The CronJob controller's decisions, as pure functions of a CronJob, its Jobs and the time (`plan`).

`schedule` is cron syntax (croniter: five fields and the `@hourly`-style macros) read in `timeZone` (UTC when
unset). The schedule is due at the latest fire time after `status.lastScheduleTime` (else after the CronJob's
creation) that is not later than now; later than `startingDeadlineSeconds` after it, that run is missed. Then
`concurrencyPolicy` decides: Allow starts another Job, Forbid skips while one is active (and tries again until
the deadline passes, as the controller does), Replace deletes the active ones and starts a new one. `suspend`
starts nothing. Finished Jobs beyond `successfulJobsHistoryLimit` (3) and `failedJobsHistoryLimit` (1) are
deleted, oldest first. `jobcontrol.py` carries the plan out, on the node's clock (`clock.py`).
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from croniter import croniter

from chaos_sandbox.node.jobs import finished, parse_time, rfc3339

Obj = dict[str, Any]
SCHEDULED_KEY = "batch.kubernetes.io/cronjob-scheduled-timestamp"


@dataclass(frozen=True)
class Plan:
    start: datetime.datetime | None = None  # the scheduled time of a Job to create now
    delete: list[str] = field(default_factory=list)  # Jobs to delete (Replace, history limits)
    status: Obj = field(default_factory=dict)
    why: str = ""  # why nothing starts, when something was due


def due(schedule: str, zone: str | None, after: datetime.datetime, now: datetime.datetime) -> datetime.datetime | None:
    """The latest fire time in (after, now], or None."""
    tz = zoneinfo.ZoneInfo(zone) if zone else datetime.UTC
    # get_prev from a second past `now` so that a fire time exactly at `now` counts.
    latest = croniter(schedule, (now + datetime.timedelta(seconds=1)).astimezone(tz)).get_prev(datetime.datetime)
    assert isinstance(latest, datetime.datetime)
    return latest if latest > after else None


def next_time(schedule: str, zone: str | None, after: datetime.datetime) -> datetime.datetime:
    """The first fire time after `after` (what tests advance the node's clock to)."""
    tz = zoneinfo.ZoneInfo(zone) if zone else datetime.UTC
    upcoming = croniter(schedule, after.astimezone(tz)).get_next(datetime.datetime)
    assert isinstance(upcoming, datetime.datetime)
    return upcoming


def job_name(cronjob: str, scheduled: datetime.datetime) -> str:
    """`<cronjob>-<minutes since the epoch>`, as the controller names them, so one time starts one Job."""
    return f"{cronjob}-{int(scheduled.timestamp()) // 60}"


def _created(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("creationTimestamp", ""))


def _ref(job: Obj) -> Obj:
    meta = job["metadata"]
    return {"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "namespace": meta.get("namespace"),
            "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")}


def plan(cronjob: Obj, jobs: list[Obj], now: datetime.datetime, created: datetime.datetime | None = None) -> Plan:
    """`created`: the CronJob's creation on the controllers' clock (default: its creationTimestamp)."""
    spec, status = cronjob.get("spec") or {}, dict(cronjob.get("status") or {})
    jobs = sorted((j for j in jobs if not (j.get("metadata") or {}).get("deletionTimestamp")), key=_created)
    active = [j for j in jobs if finished(j) is None]
    good = [j for j in jobs if finished(j) == "Complete"]
    bad = [j for j in jobs if finished(j) == "Failed"]
    delete: list[str] = []
    limits = ((good, spec.get("successfulJobsHistoryLimit", 3)), (bad, spec.get("failedJobsHistoryLimit", 1)))
    for kept, limit in limits:
        extra = len(kept) - int(limit)
        delete += [j["metadata"]["name"] for j in kept[:max(0, extra)]]
    new: Obj = {**status, "active": [_ref(j) for j in active] or None}
    times = [t for j in good if (t := parse_time((j.get("status") or {}).get("completionTime")))]
    if times:
        new["lastSuccessfulTime"] = rfc3339(max(times))
    after = parse_time(status.get("lastScheduleTime")) or created or parse_time(_created(cronjob)) or now
    scheduled = due(str(spec.get("schedule", "")), spec.get("timeZone"), after, now)
    if scheduled is None:
        return Plan(delete=delete, status=new)
    if spec.get("suspend"):
        return Plan(delete=delete, status=new, why="suspended")
    deadline = spec.get("startingDeadlineSeconds")
    if isinstance(deadline, int) and now > scheduled + datetime.timedelta(seconds=deadline):
        return Plan(delete=delete, status=new, why=f"missed the {rfc3339(scheduled)} run: past startingDeadlineSeconds")
    policy = spec.get("concurrencyPolicy", "Allow")
    if active and policy == "Forbid":
        return Plan(delete=delete, status=new, why="a Job is still active (concurrencyPolicy Forbid)")
    if active and policy == "Replace":
        delete += [j["metadata"]["name"] for j in active]
        new["active"] = None
    new["lastScheduleTime"] = rfc3339(scheduled)
    return Plan(start=scheduled, delete=delete, status=new)
