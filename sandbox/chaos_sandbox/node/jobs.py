"""The Job controller's decisions, as a pure function of a Job, its pods and the time (`plan`).

What a Job wants (Kubernetes' batch/v1 semantics, the parts the sandbox runs): `parallelism` pods at once,
`completions` successful pods (NonIndexed), or one successful pod per index 0..completions-1
(`completionMode: Indexed`); a failed pod is replaced until more than `backoffLimit` have failed, then the
Job fails (`BackoffLimitExceeded`). An Indexed Job with `backoffLimitPerIndex` (Kubernetes 1.29+) counts failures
per index instead: an index with more failures than that is failed (`status.failedIndexes`) and not run again
while the others go on; the Job fails once more than `maxFailedIndexes` (if set) have failed
(`MaxFailedIndexesExceeded`), or once every index has succeeded or failed with some failed (`FailedIndexes`).
Past `activeDeadlineSeconds` after its start it fails (`DeadlineExceeded`); either way its running pods are
deleted. A finished Job gets `FailureTarget`/`SuccessCriteriaMet` and then
`Failed`/`Complete`, as 1.31+ sets them, and is deleted `ttlSecondsAfterFinished` after it finished. A pod deleted
before it succeeded counts as failed (it keeps the `TRACKING` finalizer until the Job is finished).
`jobcontrol.py` carries the plan out.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
# On every Job pod until the Job is finished (or gone): a deleted pod stays visible, so it is counted as failed
# rather than silently replaced, as the Job controller's pod tracking does.
TRACKING = "batch.kubernetes.io/job-tracking"
DEFAULT_BACKOFF_LIMIT = 6
MAX_PARALLELISM = 10  # every pod is a real process on this machine


@dataclass(frozen=True)
class Plan:
    create: list[int | None] = field(default_factory=list)  # a completion index per new pod (None: NonIndexed)
    delete: list[str] = field(default_factory=list)  # names of pods to delete
    status: Obj = field(default_factory=dict)  # the Job's whole status
    expire: bool = False  # ttlSecondsAfterFinished has passed: delete the Job
    release: list[str] = field(default_factory=list)  # pods whose TRACKING finalizer goes (the Job is finished)


def rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def pod_index(pod: Obj) -> int | None:
    meta = pod.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(INDEX_KEY, (meta.get("labels") or {}).get(INDEX_KEY))
    return int(value) if isinstance(value, str) and value.isdigit() else None


def finished(job: Obj) -> str | None:
    """"Complete" or "Failed" once the Job has that condition, else None."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


def ranges(indexes: set[int]) -> str:
    """`completedIndexes` as the API writes it: "0-2,5"."""
    parts: list[str] = []
    for i in sorted(indexes):
        if parts and int(parts[-1].rpartition("-")[2]) == i - 1:
            parts[-1] = f"{parts[-1].partition('-')[0]}-{i}"
        else:
            parts.append(str(i))
    return ",".join(parts)


def _conditions(final: str, reason: str, message: str, now: str) -> list[Obj]:
    first = "SuccessCriteriaMet" if final == "Complete" else "FailureTarget"
    return [{"type": kind, "status": "True", "reason": reason, "message": message, "lastProbeTime": now,
             "lastTransitionTime": now} for kind in (first, final)]


def plan(job: Obj, pods: list[Obj], now: datetime.datetime) -> Plan:
    spec, status = job.get("spec") or {}, dict(job.get("status") or {})
    indexed = spec.get("completionMode") == "Indexed"
    parallelism = min(int(spec.get("parallelism", 1)), MAX_PARALLELISM)
    completions = spec.get("completions")
    per_index = spec.get("backoffLimitPerIndex") if indexed else None
    # With a per-index limit the Job-wide one defaults to "none" (the API's MaxInt32).
    backoff = int(spec.get("backoffLimit", DEFAULT_BACKOFF_LIMIT if per_index is None else 2**31 - 1))
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    active = [p for p in live if phase(p) not in ("Succeeded", "Failed")]
    succeeded = [p for p in pods if phase(p) == "Succeeded"]
    failed = [p for p in pods if phase(p) == "Failed" or (p not in live and phase(p) != "Succeeded")]
    done_indexes = {i for p in succeeded if (i := pod_index(p)) is not None}
    failed_indexes: set[int] = set()
    if isinstance(per_index, int):
        counts: dict[int, int] = {}
        for p in failed:
            if (i := pod_index(p)) is not None and i not in done_indexes:
                counts[i] = counts.get(i, 0) + 1
        failed_indexes = {i for i, n in counts.items() if n > per_index}
    nowtext = rfc3339(now)
    new: Obj = {**status, "active": len(active), "succeeded": len(succeeded), "failed": len(failed),
                "ready": sum(1 for p in active if _ready(p)), "terminating": len(pods) - len(live)}
    if indexed:
        new["completedIndexes"] = ranges(done_indexes)
    if failed_indexes:
        new["failedIndexes"] = ranges(failed_indexes)
    if spec.get("suspend"):
        return Plan(delete=[p["metadata"]["name"] for p in active], status=new)
    new.setdefault("startTime", nowtext)
    ended = finished(job)
    if ended is not None:  # its counts are final: pods released from tracking may go
        ttl = spec.get("ttlSecondsAfterFinished")
        at = parse_time(status.get("completionTime")) or _condition_time(job, ended)
        expire = isinstance(ttl, int) and at is not None and now >= at + datetime.timedelta(seconds=ttl)
        release = [p["metadata"]["name"] for p in pods if TRACKING in (p["metadata"].get("finalizers") or [])]
        return Plan(delete=[p["metadata"]["name"] for p in active], status={**status, "active": len(active)},
                    expire=expire, release=release)
    started = parse_time(new["startTime"]) or now
    deadline = spec.get("activeDeadlineSeconds")
    failure: tuple[str, str] | None = None
    max_failed = spec.get("maxFailedIndexes")
    if len(failed) > backoff:
        failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    elif isinstance(max_failed, int) and len(failed_indexes) > max_failed:
        failure = ("MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of failed indexes")
    elif isinstance(deadline, int) and now >= started + datetime.timedelta(seconds=deadline):
        failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
    if failure is not None:
        new["conditions"] = [*(status.get("conditions") or []), *_conditions("Failed", *failure, nowtext)]
        return Plan(delete=[p["metadata"]["name"] for p in active], status=new)
    if indexed:
        want = int(completions if completions is not None else 1)
        complete = done_indexes >= set(range(want))
        if failed_indexes and (done_indexes | failed_indexes) >= set(range(want)) and not active:
            new["conditions"] = [*(status.get("conditions") or []),
                                 *_conditions("Failed", "FailedIndexes", "Job has failed indexes", nowtext)]
            return Plan(status=new)
        busy = done_indexes | failed_indexes | {i for p in active if (i := pod_index(p)) is not None}
        free = [i for i in range(want) if i not in busy]
        create: list[int | None] = list(free[:max(0, parallelism - len(active))])
    elif completions is not None:
        complete = len(succeeded) >= int(completions)
        create = [None] * max(0, min(parallelism, int(completions) - len(succeeded)) - len(active))
    else:  # a work queue: done once one pod succeeded and none runs any more
        complete = bool(succeeded) and not active
        create = [] if succeeded else [None] * max(0, parallelism - len(active))
    if complete:
        new["completionTime"] = nowtext
        new["conditions"] = [*(status.get("conditions") or []),
                             *_conditions("Complete", "CompletionsReached", "Reached expected number of "
                                          "succeeded pods", nowtext)]
        return Plan(delete=[p["metadata"]["name"] for p in active], status=new)
    return Plan(create=create, status=new)


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _condition_time(job: Obj, kind: str) -> datetime.datetime | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return parse_time(cond.get("lastTransitionTime"))
    return None
