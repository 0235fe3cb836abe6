"""The Job and CronJob control loops: thin adapters that carry out `jobs.plan` and `cronjobs.plan` on the store.

Job pods get the Job's template with `generateName` `<job>-` (Indexed: `<job>-<index>-`), the labels
`batch.kubernetes.io/controller-uid`, `batch.kubernetes.io/job-name` (and the legacy `controller-uid`,
`job-name`), a controller ownerReference to the Job, and in Indexed mode the completion index as annotation and
label and as `JOB_COMPLETION_INDEX` in every container's env (from that annotation, as the Job controller does).
CronJob Jobs are made from `jobTemplate`, named `<cronjob>-<minutes since the epoch>`, owned by the CronJob.
Deleting a Job or CronJob leaves its dependents to the garbage collector (`gc.py`).
"""

from __future__ import annotations

import copy
import logging
from collections import defaultdict
from typing import Any

from chaos_sandbox.emulator.resources import ApiError
from chaos_sandbox.node import cronjobs, jobs
from chaos_sandbox.node.clock import Clock
from chaos_sandbox.node.controllers import Api, controller_uid, owner_ref

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def _by_owner(items: list[Obj]) -> dict[str | None, list[Obj]]:
    found: dict[str | None, list[Obj]] = defaultdict(list)
    for item in items:
        found[controller_uid(item)].append(item)
    return found


def job_pod(job: Obj, index: int | None, node_name: str) -> Obj:
    template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    tmeta, spec = template.get("metadata") or {}, template.get("spec") or {}
    name, uid = job["metadata"]["name"], job["metadata"]["uid"]
    labels = {**(tmeta.get("labels") or {}), "batch.kubernetes.io/controller-uid": uid,
              "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name}
    annotations = dict(tmeta.get("annotations") or {})
    if index is not None:
        labels[jobs.INDEX_KEY] = annotations[jobs.INDEX_KEY] = str(index)
        ref = {"fieldRef": {"fieldPath": f"metadata.annotations['{jobs.INDEX_KEY}']"}}
        for container in spec.get("containers") or []:
            container["env"] = [*(container.get("env") or []), {"name": "JOB_COMPLETION_INDEX", "valueFrom": ref}]
    spec.setdefault("nodeName", node_name)  # a single node: scheduling is a no-op
    prefix = f"{name}-{index}-" if index is not None else f"{name}-"
    return {"metadata": {"generateName": prefix, "labels": labels, "annotations": annotations,
                         "finalizers": [jobs.TRACKING], "ownerReferences": [owner_ref(job, "Job")]}, "spec": spec}


def release(api: Api, pod: Obj) -> None:
    """Take the tracking finalizer off a pod (a deleted one then goes)."""
    left = [f for f in pod["metadata"].get("finalizers") or [] if f != jobs.TRACKING]
    meta = pod["metadata"]
    api.patch("v1/pods", meta["namespace"], meta["name"], {"metadata": {"finalizers": left or None}})


def reconcile_jobs(api: Api, node_name: str, clock: Clock) -> None:
    pods = _by_owner(api.list("v1/pods"))
    now = clock.now()
    all_jobs = api.list("batch/v1/jobs")
    counting = {j["metadata"]["uid"] for j in all_jobs if not j["metadata"].get("deletionTimestamp")}
    for owner, owned in pods.items():  # the Job is gone, going, or never was (orphaned): nothing counts these
        for pod in owned:
            if owner not in counting and jobs.TRACKING in (pod["metadata"].get("finalizers") or []):
                release(api, pod)
    for job in all_jobs:
        meta = job["metadata"]
        if meta.get("deletionTimestamp"):
            continue
        ns, name = meta["namespace"], meta["name"]
        decided = jobs.plan(job, pods[meta["uid"]], now)
        if decided.expire:
            log.info("job %s/%s: ttlSecondsAfterFinished passed, deleting it", ns, name)
            api.delete("batch/v1/jobs", ns, name)
            continue
        for doomed in decided.delete:
            api.delete("v1/pods", ns, doomed)
        for pod in pods[meta["uid"]]:
            if pod["metadata"]["name"] in decided.release:
                release(api, pod)
        for index in decided.create:
            api.create("v1/pods", ns, job_pod(job, index, node_name))
        if decided.create:
            decided.status["active"] = decided.status.get("active", 0) + len(decided.create)
        api.patch("batch/v1/jobs", ns, name, {"status": decided.status}, status=True)
        if jobs.finished(job) is None and (ended := jobs.finished({"status": decided.status})):
            log.info("job %s/%s: %s", ns, name, ended)


def reconcile_cronjobs(api: Api, clock: Clock) -> None:
    owned = _by_owner(api.list("batch/v1/jobs"))
    now = clock.now()
    for cronjob in api.list("batch/v1/cronjobs"):
        meta = cronjob["metadata"]
        if meta.get("deletionTimestamp"):
            continue
        ns, name = meta["namespace"], meta["name"]
        try:
            born = jobs.parse_time(meta.get("creationTimestamp"))
            decided = cronjobs.plan(cronjob, owned[meta["uid"]], now, clock.at(born) if born else None)
        except (ValueError, KeyError) as exc:  # an unparsable schedule or time zone: nothing runs, as on a cluster
            log.warning("cronjob %s/%s: %s", ns, name, exc)
            continue
        for job in decided.delete:
            api.delete("batch/v1/jobs", ns, job)
        status = decided.status
        if decided.start is not None:
            template = copy.deepcopy((cronjob.get("spec") or {}).get("jobTemplate") or {})
            tmeta = template.get("metadata") or {}
            body = {"metadata": {"name": cronjobs.job_name(name, decided.start), "labels": tmeta.get("labels") or {},
                                 "annotations": {**(tmeta.get("annotations") or {}),
                                                 cronjobs.SCHEDULED_KEY: jobs.rfc3339(decided.start)},
                                 "ownerReferences": [owner_ref(cronjob, "CronJob")]},
                    "spec": template.get("spec") or {}}
            try:
                created = api.create("batch/v1/jobs", ns, body)
            except ApiError as exc:
                if exc.status != 409:
                    raise
            else:
                log.info("cronjob %s/%s: started job %s", ns, name, created["metadata"]["name"])
                status = {**status, "active": [*(status.get("active") or []), {
                    "apiVersion": "batch/v1", "kind": "Job", "name": created["metadata"]["name"],
                    "namespace": ns, "uid": created["metadata"]["uid"]}]}
        api.patch("batch/v1/cronjobs", ns, name, {"status": status}, status=True)
