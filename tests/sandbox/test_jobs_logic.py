"""The Job and CronJob controllers' decisions (node/jobs.py, node/cronjobs.py), garbage collection's rule
(node/gc.py) and how an operator-image pod is run (node/commandpods.py): pure functions, table-driven."""

from __future__ import annotations

import datetime
import pathlib
from typing import Any

import pytest
import yaml
from chaos_sandbox.node import commandpods, cronjobs, gc, jobs
from chaos_sandbox.node.agentpods import Refused
from chaos_sandbox.node.clock import Clock

T0 = datetime.datetime(2026, 12, 7, 10, 0, 0, tzinfo=datetime.UTC)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def pod(name: str, phase: str = "Running", index: int | None = None, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "annotations": {}}
    if index is not None:
        meta["annotations"][jobs.INDEX_KEY] = str(index)
    if deleting:
        meta["deletionTimestamp"] = jobs.rfc3339(T0)
    return {"metadata": meta, "status": {"phase": phase}}


def job(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "j"}, "spec": spec, "status": status or {}}


STARTED = {"startTime": jobs.rfc3339(T0)}

JOB_CASES = [
    # (what, job, pods, now, creates, deletes, condition)
    ("new job: parallelism pods", job(parallelism=3, completions=5), [], 0, [None] * 3, [], None),
    ("never more than completions left", job(STARTED, parallelism=3, completions=5),
     [pod("a", "Succeeded"), pod("b", "Succeeded"), pod("c", "Succeeded"), pod("d")], 1, [None], [], None),
    ("completions reached", job(STARTED, completions=2), [pod("a", "Succeeded"), pod("b", "Succeeded")], 1,
     [], [], "Complete"),
    ("indexed: lowest free indexes", job(STARTED, completionMode="Indexed", completions=4, parallelism=2),
     [pod("a", "Succeeded", 0), pod("b", "Running", 1)], 1, [2], [], None),
    ("indexed: a failed index is retried", job(STARTED, completionMode="Indexed", completions=2, parallelism=2),
     [pod("a", "Failed", 0), pod("b", "Running", 1)], 1, [0], [], None),
    ("indexed: every index succeeded", job(STARTED, completionMode="Indexed", completions=2),
     [pod("a", "Succeeded", 1), pod("b", "Succeeded", 0)], 1, [], [], "Complete"),
    ("backoffLimit 0: the first failure fails the job", job(STARTED, parallelism=2, completions=2, backoffLimit=0),
     [pod("a", "Failed"), pod("b")], 1, [], ["b"], "Failed"),
    ("a failure within backoffLimit is replaced", job(STARTED, backoffLimit=1), [pod("a", "Failed")], 1,
     [None], [], None),
    ("deadline passed: running pods deleted", job(STARTED, activeDeadlineSeconds=10), [pod("a")], 10, [], ["a"],
     "Failed"),
    ("deadline not yet", job(STARTED, activeDeadlineSeconds=10), [pod("a")], 9, [], [], None),
    ("a pod deleted before it succeeded counts as failed", job(STARTED, backoffLimit=1), [pod("a", deleting=True)],
     1, [None], [], None),
    ("... and fails a job with backoffLimit 0", job(STARTED, backoffLimit=0), [pod("a", deleting=True)], 1, [], [],
     "Failed"),
    ("work queue: one success and nothing running", job(STARTED, parallelism=2),
     [pod("a", "Succeeded"), pod("b", "Succeeded")], 1, [], [], "Complete"),
    ("suspended: nothing runs", job(STARTED, suspend=True), [pod("a")], 1, [], ["a"], None),
]


@pytest.mark.parametrize(("what", "obj", "pods", "now", "creates", "deletes", "condition"), JOB_CASES,
                         ids=[c[0] for c in JOB_CASES])
def test_job_plan(what: str, obj: dict[str, Any], pods: list[dict[str, Any]], now: float,
                  creates: list[int | None], deletes: list[str], condition: str | None) -> None:
    decided = jobs.plan(obj, pods, at(now))
    assert (decided.create, decided.delete) == (creates, deletes), what
    assert jobs.finished({"status": decided.status}) == condition, decided.status
    if condition is not None:
        first = "SuccessCriteriaMet" if condition == "Complete" else "FailureTarget"
        assert [c["type"] for c in decided.status["conditions"]] == [first, condition]
        assert ("completionTime" in decided.status) == (condition == "Complete")


def test_a_finished_job_keeps_its_counts_and_releases_its_pods() -> None:
    done = {**STARTED, "succeeded": 2, "failed": 1,
            "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": jobs.rfc3339(T0)}]}
    tracked = pod("a", "Succeeded")
    tracked["metadata"]["finalizers"] = [jobs.TRACKING]
    decided = jobs.plan(job(done), [tracked, pod("b", "Succeeded")], at(1))
    assert decided.release == ["a"] and (decided.status["succeeded"], decided.status["failed"]) == (2, 1)


def test_job_status_counts_and_reasons() -> None:
    decided = jobs.plan(job(STARTED, completionMode="Indexed", completions=6, parallelism=1, backoffLimit=3),
                        [pod("a", "Succeeded", 0), pod("b", "Succeeded", 1), pod("c", "Succeeded", 2),
                         pod("d", "Succeeded", 4), pod("e", "Failed", 3), pod("f", "Running", 3)], at(1))
    status = decided.status
    assert (status["active"], status["succeeded"], status["failed"]) == (1, 4, 1)
    assert status["completedIndexes"] == "0-2,4" and status["startTime"] == jobs.rfc3339(T0)
    failed = jobs.plan(job(STARTED, activeDeadlineSeconds=5), [pod("a")], at(6)).status["conditions"]
    assert failed[-1]["reason"] == "DeadlineExceeded"
    backoff = jobs.plan(job(STARTED, backoffLimit=0), [pod("a", "Failed")], at(1)).status["conditions"]
    assert backoff[-1]["reason"] == "BackoffLimitExceeded"


@pytest.mark.parametrize(("ttl", "now", "expire"), [(None, 1000, False), (0, 0, True), (30, 29, False),
                                                    (30, 30, True)])
def test_job_ttl_after_finished(ttl: int | None, now: float, expire: bool) -> None:
    done = {**STARTED, "completionTime": jobs.rfc3339(T0),
            "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": jobs.rfc3339(T0)}]}
    spec = {} if ttl is None else {"ttlSecondsAfterFinished": ttl}
    assert jobs.plan(job(done, **spec), [], at(now)).expire is expire


def cronjob(last: datetime.datetime | None = None, **spec: Any) -> dict[str, Any]:
    status = {"lastScheduleTime": jobs.rfc3339(last)} if last else {}
    return {"metadata": {"name": "cj", "creationTimestamp": jobs.rfc3339(T0 - datetime.timedelta(days=8))},
            "spec": {"schedule": "* * * * *", **spec}, "status": status}


def child(name: str, ended: str | None = None, finished_at: float = 0) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if ended:
        status = {"conditions": [{"type": ended, "status": "True"}], "completionTime": jobs.rfc3339(at(finished_at))}
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": name}, "status": status}


CRON_CASES = [
    # (what, cronjob, jobs, now, starts at, deletes)
    ("due at the minute", cronjob(at(-60)), [], 5, T0, []),
    ("already started this minute", cronjob(T0), [], 30, None, []),
    ("missed runs start once, at the latest time", cronjob(at(-600)), [], 0, T0, []),
    ("suspended", cronjob(at(-60), suspend=True), [], 0, None, []),
    ("Forbid while one is active", cronjob(at(-60), concurrencyPolicy="Forbid"), [child("a")], 0, None, []),
    ("Allow beside an active one", cronjob(at(-60)), [child("a")], 0, T0, []),
    ("Replace deletes the active one", cronjob(at(-60), concurrencyPolicy="Replace"), [child("a")], 0, T0, ["a"]),
    ("past startingDeadlineSeconds", cronjob(at(-60), startingDeadlineSeconds=10), [], 11, None, []),
    ("within startingDeadlineSeconds", cronjob(at(-60), startingDeadlineSeconds=10), [], 10, T0, []),
    ("history limits, oldest first", cronjob(T0, successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0),
     [child("1", "Complete"), child("2", "Complete"), child("3", "Failed"), child("4")], 1, None, ["1", "3"]),
    ("weekly, in its time zone", cronjob(at(-3600), schedule="0 11 * * 1", timeZone="Europe/Berlin"), [], 0, T0, []),
    ("weekly, not yet", cronjob(at(-3600), schedule="0 10 * * 1", timeZone="Europe/Berlin"), [], 0, None, []),
]


@pytest.mark.parametrize(("what", "obj", "children", "now", "starts", "deletes"), CRON_CASES,
                         ids=[c[0] for c in CRON_CASES])
def test_cronjob_plan(what: str, obj: dict[str, Any], children: list[dict[str, Any]], now: float,
                      starts: datetime.datetime | None, deletes: list[str]) -> None:
    decided = cronjobs.plan(obj, children, at(now))
    assert (decided.start, decided.delete) == (starts, deletes), (what, decided.why)
    if starts is not None:
        assert decided.status["lastScheduleTime"] == jobs.rfc3339(starts)


def test_cronjob_status_and_names() -> None:
    status = cronjobs.plan(cronjob(T0), [child("a", "Complete", 5), child("b", "Complete", 9), child("c")],
                           at(20)).status
    assert status["lastSuccessfulTime"] == jobs.rfc3339(at(9)) and [r["name"] for r in status["active"]] == ["c"]
    assert cronjobs.job_name("cj", T0) == f"cj-{int(T0.timestamp()) // 60}"
    assert cronjobs.next_time("0 10 * * 1", "Europe/Berlin", T0) == datetime.datetime(
        2026, 12, 14, 9, 0, tzinfo=datetime.UTC)  # 10:00 in Berlin, a week on


@pytest.mark.parametrize(("refs", "live", "deleting", "collected"), [
    ([], set(), False, False),  # no owners: never collected
    ([{"uid": "a"}], {"a"}, False, False),
    ([{"uid": "a"}], set(), False, True),
    ([{"uid": "a"}, {"uid": "b"}], {"b"}, False, False),  # one owner left keeps it
    ([{"uid": "a"}], set(), True, False),  # already being deleted
])
def test_garbage_rule(refs: list[dict[str, Any]], live: set[str], deleting: bool, collected: bool) -> None:
    meta: dict[str, Any] = {"ownerReferences": refs}
    if deleting:
        meta["deletionTimestamp"] = "now"
    assert gc.orphaned({"metadata": meta}, live) is collected


@pytest.mark.parametrize(("image", "ours"), [
    ("chaos-operator:0.1.0", True), ("ghcr.io/acme/chaos-operator:1.2@sha256:ab", True),
    ("localhost:5000/chaos-operator", True), ("chaos-operator/operator:sandbox", True),
    ("chaos-operator/demo-app", False), ("busybox", False), ("evil/chaos-operator-x:1", False),
])
def test_operator_image(image: str, ours: bool) -> None:
    assert commandpods.is_operator_image(image) is ours


def schedule_pod(**container: Any) -> dict[str, Any]:
    ctr = {"name": "submit", "image": "chaos-operator:0.1.0", "command": ["chaos-operator"],
           "args": ["submit", "/etc/schedule/experiment.yaml", "--x=/etc/schedule/y"],
           "volumeMounts": [{"name": "experiment", "mountPath": "/etc/schedule"}, {"name": "tmp", "mountPath": "/tmp"}]}
    ctr.update(container)
    return {"metadata": {"name": "p", "namespace": "chaos-system", "uid": "u1",
                         "annotations": {jobs.INDEX_KEY: "3"}},
            "spec": {"serviceAccountName": "runner", "containers": [ctr],
                     "volumes": [{"name": "experiment", "configMap": {"name": "cm"}},
                                 {"name": "tmp", "emptyDir": {}}]}}


def test_command_pod_plan(tmp_path: pathlib.Path) -> None:
    index = {"name": "JOB_COMPLETION_INDEX",
             "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{jobs.INDEX_KEY}']"}}}
    plan = commandpods.plan(schedule_pod(env=[{"name": "A", "value": "b"}, index]), tmp_path, "http://127.0.0.1:1",
                            {"cm": {"data": {"experiment.yaml": "kind: X\n"}}}, "tok")
    volume = tmp_path / "volumes" / "experiment"
    assert plan.argv == [str(commandpods.PROGRAMS["chaos-operator"]), "submit", f"{volume}/experiment.yaml",
                         f"--x={volume}/y"]
    assert plan.config_files == {volume / "experiment.yaml": "kind: X\n"}
    assert plan.env["A"] == "b" and plan.env["JOB_COMPLETION_INDEX"] == "3"
    assert plan.env["TMPDIR"] == str(tmp_path / "volumes" / "tmp")
    config = yaml.safe_load(plan.kubeconfig)
    assert config["users"][0]["user"]["token"] == "tok"  # the one the node had the emulator issue
    assert plan.account_files == {} and "KUBERNETES_SERVICE_HOST" not in plan.env  # no HTTPS endpoint given
    assert config["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:1"


@pytest.mark.parametrize(("container", "configmaps", "reason"), [
    ({"command": ["sh", "-c", "true"]}, {"cm": {"data": {}}}, "CommandRefused"),
    ({"command": ["python", "-c", "print(1)"], "args": []}, {"cm": {"data": {}}}, "CommandRefused"),
    ({"command": ["python3", "-m", "http.server"], "args": []}, {"cm": {"data": {}}}, "CommandRefused"),
    ({}, {}, "FailedMount"),
    ({"env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}, {"cm": {"data": {}}},
     "Unsupported"),
])
def test_command_pod_refused(tmp_path: pathlib.Path, container: dict[str, Any], configmaps: dict[str, Any],
                             reason: str) -> None:
    with pytest.raises(Refused) as refused:
        commandpods.plan(schedule_pod(**container), tmp_path, "http://127.0.0.1:1", configmaps, "tok")
    assert refused.value.reason == reason


def test_command_pod_runs_the_operator_module_and_expands_vars(tmp_path: pathlib.Path) -> None:
    env = [{"name": "N", "value": "7"}]
    plan = commandpods.plan(schedule_pod(command=["python"], args=["-m", "chaos_operator.x", "$(N)", "$$(N)", "$(M)"],
                                         env=env), tmp_path, "http://127.0.0.1:1", {"cm": {"data": {}}}, "tok")
    assert plan.argv[1:] == ["-m", "chaos_operator.x", "7", "$(N)", "$(M)"]
    default = commandpods.plan(schedule_pod(command=[], args=[]), tmp_path, "http://127.0.0.1:1",
                               {"cm": {"data": {}}}, "tok")
    assert default.argv == [str(commandpods.PROGRAMS["chaos-operator"]), "run"]  # the image's ENTRYPOINT and CMD


def test_clock_maps_real_moments_with_the_offset_in_force_then() -> None:
    clock = Clock()
    before = datetime.datetime.now(datetime.UTC)
    clock.advance(3600)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)
    assert clock.at(before) == before and clock.at(later) == later + datetime.timedelta(hours=1)
    assert clock.now() >= later + datetime.timedelta(minutes=59)
    with pytest.raises(ValueError):
        clock.advance(-1)
    # A CronJob created (on the clock) after the minute's fire time is not due for it; by its timestamp alone it is.
    assert cronjobs.plan(cronjob(None), [], at(40), at(10)).start is None
    assert cronjobs.plan(cronjob(None), [], at(40)).start == T0


@pytest.mark.parametrize(("schedule", "zone"), [("61 * * * *", None), ("every day", None), ("* * * * *", "Mars/Base")])
def test_an_unreadable_schedule_is_an_error_the_loop_logs(schedule: str, zone: str | None) -> None:
    with pytest.raises((ValueError, KeyError)):  # what node/jobcontrol.py catches: nothing starts
        cronjobs.plan(cronjob(at(-60), schedule=schedule, timeZone=zone), [], at(0))


def test_a_failed_index_with_a_per_index_limit_leaves_the_others_running() -> None:
    spec = {"completionMode": "Indexed", "completions": 3, "parallelism": 3, "backoffLimitPerIndex": 0}
    running = jobs.plan(job(STARTED, **spec), [pod("a", "Failed", 0), pod("b", "Running", 1),
                                               pod("c", "Running", 2)], at(1))
    assert running.create == [] and running.delete == [], running  # index 0 is not run again, 1 and 2 go on
    assert running.status["failedIndexes"] == "0" and "conditions" not in running.status
    ended = jobs.plan(job(STARTED, **spec), [pod("a", "Failed", 0), pod("b", "Succeeded", 1),
                                             pod("c", "Succeeded", 2)], at(2))
    assert ended.status["conditions"][-1]["reason"] == "FailedIndexes"
    capped = jobs.plan(job(STARTED, **spec, maxFailedIndexes=0), [pod("a", "Failed", 0), pod("b", "Running", 1)],
                       at(1))
    assert capped.status["conditions"][-1]["reason"] == "MaxFailedIndexesExceeded" and capped.delete == ["b"]
