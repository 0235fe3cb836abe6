"""Jobs, CronJobs and garbage collection on the sandbox node: pods of the operator image run as real processes
(node/commandpods.py), the controllers (node/jobcontrol.py) follow them, and the node's clock is advanced instead of
waiting (node/clock.py). kubectl is the real one, given the sandbox's kubeconfig."""

from __future__ import annotations

import json
import os
import pathlib
import urllib.request
from typing import Any

from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.node.jobs import INDEX_KEY, finished

from tests.support.kubectl import Kubectl
from tests.support.waits import wait_for

NS = "batch"
IMAGE = "chaos-operator:0.1.0"  # the chart's image reference
EXPERIMENT = (pathlib.Path(__file__).resolve().parents[2] / "examples" / "demo" / "web-kill-one.yaml").read_text()
# What the pods run: the operator image's own CLI (nothing else is run, node/commandpods.py).
OK = ["validate", "/cfg/exp-0.yaml"]  # exits 0 at once
BROKEN = ["validate", "/cfg/missing.yaml"]  # exits 1 at once
WAITS = ["submit", "/cfg/exp-0.yaml", f"--namespace={NS}", "--wait", "--timeout=300"]  # no operator: waits


def files(sandbox: Sandbox) -> None:
    """The ConfigMap the pods mount at /cfg: one valid experiment per index 0..2."""
    sandbox.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": NS},
                    "data": {f"exp-{i}.yaml": EXPERIMENT for i in range(3)}}])


def job(name: str, args: list[str], grace: int = 1, **spec: Any) -> dict[str, Any]:
    """A Job whose one container runs `chaos-operator ARGS` from the operator image, with /cfg mounted."""
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": NS},
            "spec": {**spec, "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "restartPolicy": "Never", "terminationGracePeriodSeconds": grace,
                "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}],
                "containers": [{"name": "main", "image": IMAGE, "command": ["chaos-operator"], "args": args,
                                "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]}]}}}}


def get(sandbox: Sandbox, resource: str, name: str) -> dict[str, Any] | None:
    return sandbox.emu.get(resource, NS, name)


def pods_of(sandbox: Sandbox, name: str) -> list[dict[str, Any]]:
    return sandbox.emu.list("pods", NS, label_selector=f"batch.kubernetes.io/job-name={name}")


def ended(sandbox: Sandbox, name: str, timeout: float = 60) -> dict[str, Any]:
    """The Job once it has Complete or Failed."""
    return dict(wait_for(f"job {name} to finish", lambda: (j := get(sandbox, "jobs", name)) and finished(j) and j,
                         timeout))


def reason(obj: dict[str, Any], kind: str) -> str:
    return next(str(c.get("reason")) for c in obj["status"]["conditions"] if c["type"] == kind)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def running_pid(sandbox: Sandbox, name: str) -> tuple[str, int]:
    def find() -> tuple[str, int] | None:
        for pod in pods_of(sandbox, name):
            if pod["status"].get("phase") == "Running":
                pid = sandbox.pod_pid(NS, pod["metadata"]["name"])
                if pid is not None:
                    return pod["metadata"]["name"], pid
        return None
    found: tuple[str, int] = wait_for(f"a running pod of {name}", find, 30)
    return found


def test_indexed_job_runs_each_index_once_with_its_index(sandbox: Sandbox) -> None:
    # Exits 0 only if $(JOB_COMPLETION_INDEX) expands to an index with a file: without it the pod fails.
    files(sandbox)
    args = ["validate", "/cfg/exp-$(JOB_COMPLETION_INDEX).yaml"]
    sandbox.apply([job("idx", args, completionMode="Indexed", completions=3, parallelism=2, backoffLimit=0)])
    done = ended(sandbox, "idx")
    status = done["status"]
    assert finished(done) == "Complete", status
    assert (status["succeeded"], status["failed"], status["active"]) == (3, 0, 0)
    assert status["completedIndexes"] == "0-2" and status["startTime"] and status["completionTime"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    pods = pods_of(sandbox, "idx")
    by_index = {p["metadata"]["annotations"][INDEX_KEY]: p for p in pods}
    assert sorted(by_index) == ["0", "1", "2"] and len(pods) == 3
    for index, pod in by_index.items():
        meta = pod["metadata"]
        assert meta["name"].startswith(f"idx-{index}-") and meta["labels"][INDEX_KEY] == index
        assert meta["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "Job", "name": "idx",
                                            "uid": done["metadata"]["uid"], "controller": True,
                                            "blockOwnerDeletion": True}]
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert pod["status"]["phase"] == "Succeeded" and terminated["exitCode"] == 0


def test_backoff_limit_zero_fails_on_the_first_failed_pod(sandbox: Sandbox) -> None:
    files(sandbox)
    sandbox.apply([job("once", BROKEN, backoffLimit=0)])
    done = ended(sandbox, "once")
    assert finished(done) == "Failed" and reason(done, "Failed") == "BackoffLimitExceeded", done["status"]
    assert reason(done, "FailureTarget") == "BackoffLimitExceeded"
    pods = pods_of(sandbox, "once")
    assert len(pods) == 1 and pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1


def test_a_failed_pod_is_replaced_until_the_backoff_limit(sandbox: Sandbox) -> None:
    files(sandbox)
    sandbox.apply([job("retry", BROKEN, backoffLimit=2)])
    done = ended(sandbox, "retry")
    assert finished(done) == "Failed" and done["status"]["failed"] == 3, done["status"]
    assert len(pods_of(sandbox, "retry")) == 3


def test_a_deleted_pod_counts_as_failed_and_is_not_replaced_at_backoff_limit_zero(sandbox: Sandbox) -> None:
    files(sandbox)
    sandbox.apply([job("killed", WAITS, backoffLimit=0)])
    pod, pid = running_pid(sandbox, "killed")
    sandbox.emu.delete("pods", NS, pod)
    done = ended(sandbox, "killed")
    assert finished(done) == "Failed" and reason(done, "Failed") == "BackoffLimitExceeded", done["status"]
    assert done["status"]["failed"] == 1
    wait_for("the pod gone once counted", lambda: pods_of(sandbox, "killed") == [], 15)
    assert not alive(pid) and get(sandbox, "jobs", "killed")["status"]["failed"] == 1  # type: ignore[index]


def test_active_deadline_deletes_the_running_pod_and_fails_the_job(sandbox: Sandbox) -> None:
    files(sandbox)
    sandbox.apply([job("slow", WAITS, activeDeadlineSeconds=30)])
    pod, pid = running_pid(sandbox, "slow")
    assert get(sandbox, "jobs", "slow")["status"]["active"] == 1  # type: ignore[index]
    sandbox.advance_clock(31)  # the deadline passes on the controllers' clock
    done = ended(sandbox, "slow")
    assert finished(done) == "Failed" and reason(done, "Failed") == "DeadlineExceeded", done["status"]
    wait_for("the pod's process to be stopped", lambda: not alive(pid), 15)
    wait_for("the pod to be gone", lambda: get(sandbox, "pods", pod) is None, 15)


def test_ttl_after_finished_deletes_the_job_and_its_pods(sandbox: Sandbox) -> None:
    files(sandbox)
    sandbox.apply([job("brief", OK, ttlSecondsAfterFinished=0)])
    wait_for("the finished job to be deleted", lambda: get(sandbox, "jobs", "brief") is None
             and pods_of(sandbox, "brief") == [], 60)
    # It did run: the Job was there and finished before it went (a pod's log has nothing here, so its name).
    assert sandbox.work_dir is not None
    assert any(p.name.startswith(f"{NS}_brief-") for p in (sandbox.work_dir / "pods").iterdir())


def http(sandbox: Sandbox, path: str) -> Any:
    """GET over HTTP; a watch (`?watch=1&timeoutSeconds=N`) returns its events once the server ends it."""
    with urllib.request.urlopen(sandbox.url + path, timeout=30) as answer:
        text = answer.read().decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()] if "watch=1" in path else json.loads(text)


def test_deleting_a_job_cascades_background_orphan_and_foreground(sandbox: Sandbox, tmp_path: pathlib.Path) -> None:
    kubectl = Kubectl(sandbox.write_kubeconfig(tmp_path / "kubeconfig", NS), tmp_path)
    files(sandbox)
    sandbox.apply([job("bg", WAITS), job("orphan", WAITS), job("fg", WAITS)])
    bg_pod, bg_pid = running_pid(sandbox, "bg")
    orphan_pod, orphan_pid = running_pid(sandbox, "orphan")
    fg_pod, fg_pid = running_pid(sandbox, "fg")

    kubectl("delete", "job", "bg", "--wait=false")  # background: the default
    wait_for("the Job's pod to be collected", lambda: get(sandbox, "pods", bg_pod) is None, 30)
    assert not alive(bg_pid) and get(sandbox, "jobs", "bg") is None

    kubectl("delete", "job", "orphan", "--cascade=orphan", "--wait=false")
    wait_for("the orphaning Job to go", lambda: get(sandbox, "jobs", "orphan") is None, 30)
    left = get(sandbox, "pods", orphan_pod)
    assert left is not None and not left["metadata"].get("ownerReferences") and alive(orphan_pid), left

    since = http(sandbox, f"/api/v1/namespaces/{NS}/pods")["metadata"]["resourceVersion"]
    kubectl("delete", "job", "fg", "--cascade=foreground", "--wait=false")
    wait_for("the Job gone after its pod", lambda: get(sandbox, "jobs", "fg") is None, 30)
    assert get(sandbox, "pods", fg_pod) is None and not alive(fg_pid)
    # The order, as watchers saw it: the Job held by `foregroundDeletion`, its pod gone, then the Job.
    jobs = http(sandbox, f"/apis/batch/v1/namespaces/{NS}/jobs?watch=1&resourceVersion={since}&timeoutSeconds=1")
    pods = http(sandbox, f"/api/v1/namespaces/{NS}/pods?watch=1&resourceVersion={since}&timeoutSeconds=1")
    rv = {(e["type"], e["object"]["metadata"]["name"]): int(e["object"]["metadata"]["resourceVersion"])
          for e in jobs + pods}
    held = [e for e in jobs if e["object"]["metadata"]["name"] == "fg" and e["type"] == "MODIFIED"
            and "foregroundDeletion" in (e["object"]["metadata"].get("finalizers") or [])]
    assert held and int(held[0]["object"]["metadata"]["resourceVersion"]) < rv[("DELETED", fg_pod)], jobs
    assert rv[("DELETED", fg_pod)] < rv[("DELETED", "fg")]
    kubectl("delete", "pod", orphan_pod, "--wait=false")


def cronjob(name: str, args: list[str], **spec: Any) -> dict[str, Any]:
    template = job(name, args, backoffLimit=0)
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": NS},
            "spec": {"schedule": "* * * * *", **spec, "jobTemplate": {"spec": template["spec"]}}}


def jobs_of(sandbox: Sandbox, cronjob_uid: str) -> list[dict[str, Any]]:
    return [j for j in sandbox.emu.list("jobs", NS)
            if any(r["uid"] == cronjob_uid for r in j["metadata"].get("ownerReferences") or [])]


def to_next_minute(sandbox: Sandbox) -> None:
    """Advance the controllers' clock to one second past the next whole minute: a minute schedule fires once,
    and the test has the rest of that minute of real time before the schedule would fire again by itself."""
    now = sandbox.controller_time()
    sandbox.advance_clock(61 - now.second - now.microsecond / 1e6)


def test_cronjob_fires_on_the_advanced_clock_keeps_history_and_suspends(sandbox: Sandbox) -> None:
    files(sandbox)
    created = sandbox.apply([cronjob("tick", OK, concurrencyPolicy="Forbid", successfulJobsHistoryLimit=2)])
    uid = created[0]["metadata"]["uid"]
    names: list[str] = []
    for run in range(3):
        if run == 0:
            to_next_minute(sandbox)
        else:
            sandbox.advance_clock(60)  # the next minute
        fresh = wait_for(f"run {run}", lambda: [j for j in jobs_of(sandbox, uid)
                                               if j["metadata"]["name"] not in names], 30)
        assert len(fresh) == 1, fresh
        names.append(fresh[0]["metadata"]["name"])
        assert finished(ended(sandbox, names[-1])) == "Complete"
    wait_for("two successful Jobs kept", lambda: sorted(j["metadata"]["name"] for j in jobs_of(sandbox, uid))
             == sorted(names[-2:]), 30)
    wait_for("the oldest Job's pod collected", lambda: pods_of(sandbox, names[0]) == [], 30)
    status = wait_for("lastSuccessfulTime", lambda: (c := get(sandbox, "cronjobs", "tick"))
                      and c["status"].get("lastSuccessfulTime") and c["status"], 30)
    assert status["lastScheduleTime"] and not status.get("active")
    assert all(n.startswith("tick-") and n[5:].isdigit() for n in names)

    # Suspended, it starts nothing: a second CronJob firing in the same pass shows the controller looked.
    sandbox.emu.patch("cronjobs", NS, "tick", {"spec": {"suspend": True}})
    other = sandbox.apply([cronjob("tock", OK)])[0]["metadata"]["uid"]
    sandbox.advance_clock(120)
    wait_for("the other CronJob's Job", lambda: jobs_of(sandbox, other), 30)
    assert len(jobs_of(sandbox, uid)) == 2
    assert get(sandbox, "cronjobs", "tick")["status"]["lastScheduleTime"] == status["lastScheduleTime"]  # type: ignore[index]


def test_forbid_skips_while_a_job_runs_and_replace_replaces_it(sandbox: Sandbox) -> None:
    files(sandbox)
    made = sandbox.apply([cronjob("forbid", WAITS, concurrencyPolicy="Forbid"),
                          cronjob("replace", WAITS, concurrencyPolicy="Replace")])
    forbid_uid, replace_uid = (m["metadata"]["uid"] for m in made)
    to_next_minute(sandbox)
    first = wait_for("both first Jobs", lambda: (f := jobs_of(sandbox, forbid_uid)) and (r := jobs_of(
        sandbox, replace_uid)) and (f[0]["metadata"]["name"], r[0]["metadata"]["name"]), 30)
    wait_for("the first Jobs' pods running", lambda: all(
        (p := pods_of(sandbox, n)) and p[0]["status"].get("phase") == "Running" for n in first), 30)
    sandbox.advance_clock(60)
    replaced = wait_for("the Replace CronJob's new Job", lambda: [
        j["metadata"]["name"] for j in jobs_of(sandbox, replace_uid) if j["metadata"]["name"] != first[1]
        and not j["metadata"].get("deletionTimestamp")], 30)
    wait_for("the replaced Job gone", lambda: get(sandbox, "jobs", first[1]) is None, 30)
    assert len(replaced) == 1
    assert [j["metadata"]["name"] for j in jobs_of(sandbox, forbid_uid)] == [first[0]]
    cron = get(sandbox, "cronjobs", "forbid")
    assert cron is not None and [a["name"] for a in cron["status"]["active"]] == [first[0]]
