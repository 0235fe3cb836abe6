"""The chart's scheduled run (helm/chaos-operator/ci/schedule-values.yaml) run by the sandbox's CronJob and Job
controllers, as a cluster runs it.

What runs for real: the chart rendered by the real Helm engine (tests/support/chart.py) and its schedule objects
(ServiceAccount, Role, RoleBinding, ConfigMap, CronJob) stored in the sandbox's API server; the CronJob controller
firing on the chart's own schedule (`0 10 * * 1`, Europe/Berlin), its Job, and the Job's pod running the container's
`chaos-operator submit … --wait` as a process (node/commandpods.py: the image's `chaos-operator` is this install's
console script, the ConfigMap volume a directory, the arguments pointing into it rewritten); the real operator
(kopf) judging every run; the Job's calls checked against the Role the chart binds to its ServiceAccount.

What stands in, and how:
- Time: the controllers' clock is advanced to the schedule's next fire time (`Sandbox.advance_clock`,
  node/clock.py) instead of waiting for Monday 10:00.
- Identity: the pod carries a token the emulator issued for its ServiceAccount (node/node.py), mounted as a cluster
  mounts it; this sandbox keeps authorization AlwaysAllow, the emulator records each call with the token, and the
  Role is applied to those calls by the pure evaluator afterwards (tests/support/rbac.py).
- Values: the experiment's phases are shortened (4 s/3 s/3 s; at the template's 50 req/s a 4 s baseline gives ~200
  requests, above the 100 a verdict needs) and keepHistory is 1, through the chart's values as a user would set them.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import yaml
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.emulator import ALL_CALLS
from chaos_sandbox.node.cronjobs import next_time
from chaos_sandbox.node.jobs import finished

from chaos_operator.cli.submit.new_experiment import SCHEDULE_LABEL
from tests.support.chart import NAMESPACE, one, render, schedule_values
from tests.support.rbac import Call, denied, grants_for
from tests.support.waits import wait_for
from tests.support.workloads import APP_ARGS, deployment, pretty

pytestmark = pytest.mark.usefixtures("operator")  # the real operator runs during each test

DONE = ("Completed", "Aborted", "Failed")
KINDS = ("ServiceAccount", "Role", "RoleBinding", "ConfigMap", "CronJob")


def values(keep: int) -> dict[str, Any]:
    data = schedule_values()
    schedule = data["schedules"][0]
    schedule["keepHistory"] = keep
    schedule["experiment"]["spec"]["phases"] = {"baseline": "4s", "chaos": "3s", "recovery": "3s"}
    return data


def runs(box: Sandbox, ns: str, schedule: str) -> list[dict[str, Any]]:
    """The schedule's experiments still there (one being deleted no longer counts)."""
    return [o for o in box.emu.list("chaosexperiments", ns, label_selector=f"{SCHEDULE_LABEL}={schedule}")
            if not o["metadata"].get("deletionTimestamp")]


def log_of(box: Sandbox, pods: list[dict[str, Any]], tail: int | None = 3000) -> str:
    """What the pods' processes printed (the end of it, by default)."""
    assert box.work_dir is not None
    texts = [(box.work_dir / "pods" / f"{NAMESPACE}_{p['metadata']['name']}.log") for p in pods]
    return "\n".join(path.read_text(errors="replace")[-(tail or 0):] for path in texts if path.exists())


def fire(box: Sandbox, cronjob: dict[str, Any], seen: set[str]) -> str:
    """Advance the controllers' clock to the schedule's next fire time; the name of the Job it starts."""
    spec = cronjob["spec"]
    now = box.controller_time()
    box.advance_clock((next_time(spec["schedule"], spec.get("timeZone"), now) - now).total_seconds() + 1)
    uid = box.emu.get("cronjobs", NAMESPACE, cronjob["metadata"]["name"])["metadata"]["uid"]  # type: ignore[index]

    def started() -> list[dict[str, Any]]:
        return [j for j in box.emu.list("jobs", NAMESPACE) if j["metadata"]["name"] not in seen
                and any(r["uid"] == uid for r in j["metadata"].get("ownerReferences") or [])]
    job = wait_for("the CronJob's Job", started, 30)
    assert len(job) == 1, job
    seen.add(job[0]["metadata"]["name"])
    return str(job[0]["metadata"]["name"])


def job_pods(box: Sandbox, name: str) -> list[dict[str, Any]]:
    return box.emu.list("pods", NAMESPACE, label_selector=f"batch.kubernetes.io/job-name={name}")


def finish(box: Sandbox, name: str) -> dict[str, Any]:
    """The Job once it has Complete or Failed (its pods' status and log if it never does)."""
    def done() -> dict[str, Any] | None:
        found = box.emu.get("jobs", NAMESPACE, name)
        return found if found and finished(found) else None
    try:
        return dict(wait_for(f"job {name} to finish", done, 120))
    except AssertionError:
        pods = job_pods(box, name)
        raise AssertionError(f"{pretty([p.get('status') for p in pods])}\n{log_of(box, pods)}") from None


def remove(box: Sandbox, cronjob: dict[str, Any]) -> None:
    """Delete the CronJob; its Jobs and their pods go with it (garbage collection, node/gc.py)."""
    uid = box.emu.get("cronjobs", NAMESPACE, cronjob["metadata"]["name"])["metadata"]["uid"]  # type: ignore[index]
    box.emu.delete("cronjobs", NAMESPACE, cronjob["metadata"]["name"])
    wait_for("its Jobs collected", lambda: not [j for j in box.emu.list("jobs", NAMESPACE) if any(
        r["uid"] == uid for r in j["metadata"].get("ownerReferences") or [])], 30)


def test_the_charts_cronjob_fires_runs_submit_in_a_pod_and_prunes_within_its_role(box: Sandbox) -> None:
    objects = render(values(keep=1))
    mine = [o for o in objects if o["kind"] in KINDS and (o["metadata"].get("labels") or {}).get(SCHEDULE_LABEL)]
    assert sorted(o["kind"] for o in mine) == sorted(KINDS)
    cronjob = one(mine, "CronJob")
    pod_spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    args = pod_spec["containers"][0]["args"]
    ns = next(a.split("=", 1)[1] for a in args if a.startswith("--namespace="))
    schedule = cronjob["metadata"]["labels"][SCHEDULE_LABEL]
    assert (ns, schedule, cronjob["spec"]["schedule"]) == ("shop", "weekly-checkout-kill", "0 10 * * 1")
    assert "--keep-history=1" in args and "--wait" in args
    box.apply(deployment(ns, "checkout", 3, args=APP_ARGS))
    box.wait_ready(ns, "checkout", 3)
    box.apply(mine)
    template = yaml.safe_load(one(mine, "ConfigMap")["data"]["experiment.yaml"])

    seen: set[str] = set()
    names: list[str] = []
    for _ in range(2):
        job = finish(box, fire(box, cronjob, seen))
        pods = job_pods(box, job["metadata"]["name"])
        assert len(pods) == 1, pods
        pod = pods[0]
        code = pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"]
        # 0 Passed, 1 Failed or 2 Inconclusive (which one a busy machine gives does not matter), never an error.
        assert code in (0, 1, 2), log_of(box, pods)
        assert finished(job) == ("Complete" if code == 0 else "Failed"), job["status"]
        assert pod["spec"]["serviceAccountName"] == pod_spec["serviceAccountName"]
        log = log_of(box, pods, tail=None)
        marker = f"created chaosexperiment {ns}/"
        assert marker in log, log
        names.append(log.split(marker)[1].split()[0])
        run = box.emu.get("chaosexperiments", ns, names[-1])
        if run is not None:  # the previous run is pruned by the next; this one is still there
            status = run["status"]
            assert status["phase"] in DONE and status["phases"]["baseline"]["requests"] >= 100, pretty(status)
            assert "verdict " + status["verdict"] in log
            assert run["metadata"]["labels"]["app.kubernetes.io/part-of"] == "checkout"
            assert run["metadata"]["generateName"] == template["metadata"]["generateName"]
    # keepHistory 1: the second run pruned the first.
    wait_for("only the newest run kept", lambda: [o["metadata"]["name"] for o in runs(box, ns, schedule)]
             == names[-1:], 30)
    status = box.emu.get("cronjobs", NAMESPACE, cronjob["metadata"]["name"])["status"]  # type: ignore[index]
    assert status["lastScheduleTime"] and not status.get("active"), status
    last = datetime.datetime.fromisoformat(status["lastScheduleTime"].replace("Z", "+00:00"))
    local = last.astimezone(datetime.timezone(datetime.timedelta(hours=1)))  # Berlin in winter (CET)
    assert (local.weekday(), local.hour, local.minute) == (0, 10, 0), status  # a Monday, 10:00 Berlin time

    # Every call the Job's identity made is allowed by the Role the chart binds to its ServiceAccount.
    account = f"system:serviceaccount:{NAMESPACE}:{pod_spec['serviceAccountName']}"
    tokens = {t for t, who in box.emu.emulator.auth.tokens.items() if who.user == account}  # issued for its pods
    calls = {Call(c.verb, c.group, c.resource, c.subresource, c.namespace) for c in ALL_CALLS if c.user in tokens}
    assert {(c.verb, c.resource, c.namespace) for c in calls} >= {
        ("create", "chaosexperiments", ns), ("list", "chaosexperiments", ns), ("get", "chaosexperiments", ns),
        ("delete", "chaosexperiments", ns)}, calls
    grants = grants_for(objects, pod_spec["serviceAccountName"], NAMESPACE)
    assert grants, f"no Role bound to ServiceAccount {NAMESPACE}/{pod_spec['serviceAccountName']}"
    assert denied(grants, calls) == [], sorted(calls)
    print(f"runs {names}, kept {names[-1:]}; the Job's calls: {sorted(calls)}")  # shown with -s
    remove(box, cronjob)


def test_a_killed_schedule_pod_fails_its_job_and_the_next_run_refuses_while_the_experiment_goes_on(
        box: Sandbox) -> None:
    data = values(keep=3)
    schedule = data["schedules"][0]
    schedule["name"] = "overlap"
    schedule["experiment"]["spec"]["phases"]["chaos"] = "60s"  # still running when the next run comes
    objects = render(data)
    mine = [o for o in objects if o["kind"] in KINDS and (o["metadata"].get("labels") or {}).get(SCHEDULE_LABEL)]
    cronjob = one(mine, "CronJob")
    ns = "shop"
    box.apply(deployment(ns, "checkout", 3, args=APP_ARGS))
    box.wait_ready(ns, "checkout", 3)
    box.apply(mine)

    seen: set[str] = set()
    first = fire(box, cronjob, seen)
    busy = wait_for("a run in its chaos phase", lambda: next(
        (o for o in runs(box, ns, "overlap") if (o.get("status") or {}).get("phase") == "Chaos"), None), 60)
    pod = job_pods(box, first)[0]["metadata"]["name"]
    box.emu.delete("pods", NAMESPACE, pod)  # the Job's pod killed (an eviction, a node drain): the experiment goes on
    killed = finish(box, first)
    # backoffLimit 0 (the chart's): no second pod, so no second experiment from the same run.
    assert finished(killed) == "Failed" and killed["status"]["failed"] == 1, killed["status"]
    assert [c["reason"] for c in killed["status"]["conditions"]] == ["BackoffLimitExceeded"] * 2

    running = busy["metadata"]["name"]
    second = finish(box, fire(box, cronjob, seen))
    pods = job_pods(box, second["metadata"]["name"])
    assert pods and pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3, pods
    assert (f"refused: schedule 'overlap': the previous run is still running in {ns}: {running} (Chaos); "
            "not starting a new one") in log_of(box, pods), log_of(box, pods)
    assert finished(second) == "Failed"
    assert [o["metadata"]["name"] for o in runs(box, ns, "overlap")] == [running]
    box.emu.patch("chaosexperiments", ns, running, {"spec": {"abort": True}})
    wait_for("the abort", lambda: ((box.emu.get("chaosexperiments", ns, running) or {}).get("status") or {})
             .get("phase") == "Aborted", 30)
    box.wait_ready(ns, "checkout", 3)
    remove(box, cronjob)
