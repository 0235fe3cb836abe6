"""The chart's scheduled run (helm/chaos-operator/ci/schedule-values.yaml) executed the way its CronJob's Job runs it.

What runs for real: the chart rendered by the real Helm engine (tests/support/chart.py); the CronJob's
jobTemplate container `command` + `args` executed as a process (the `chaos-operator` console script of this
install, the entry point the image's PATH has); the ConfigMap's `experiment.yaml` byte for byte; the sandbox's API
emulator over HTTP and the real operator (kopf) judging every run; the Job's calls checked against the Role the
chart renders for the schedule's ServiceAccount (tests/support/rbac.py's evaluator).

What it stands in for, and how:
- No CronJob controller: the test starts each "Job" itself, one after another (and one while the previous run is
  still going, as `concurrencyPolicy: Forbid` would not prevent after a killed Job).
- No ServiceAccount token authentication: the process gets a kubeconfig whose bearer token is the string
  `system:serviceaccount:<release ns>:<serviceAccountName>`; the emulator authenticates nobody, it records each
  call with the token it carried, and the Role is applied to those calls afterwards by the pure evaluator.
  KUBERNETES_SERVICE_HOST is removed so submit takes that kubeconfig, as it takes the mounted token in a pod.
- The ConfigMap volume: its keys are written to a temporary directory and the argument that points into the
  volume's mountPath is rewritten to that directory (the mountPath itself is not writable here).
- The phases: the template's 60s/2m/60s are shortened by `--set` arguments appended after the container's own
  (a baseline of 4 s at the template's 50 req/s: ~200 requests, above the 100 a verdict needs); the retention
  runs add `--set dryRun=true`, which the operator completes at once. Nothing else is added to the argv.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
from typing import Any

import pytest
import yaml
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.emulator import ALL_CALLS

from chaos_operator.cli.submit.new_experiment import SCHEDULE_LABEL
from tests.support.chart import NAMESPACE, one, render, schedule_values
from tests.support.rbac import Call, denied, grants_for
from tests.support.waits import wait_for
from tests.support.workloads import APP_ARGS, deployment, pretty

pytestmark = pytest.mark.usefixtures("operator")  # the real operator runs during each test

SHORT = ["--set", "phases.baseline=4s", "--set", "phases.chaos=3s", "--set", "phases.recovery=3s"]
DONE = ("Completed", "Aborted", "Failed")


class Job:
    """The rendered CronJob's Job, runnable here: argv, environment, the schedule it is for."""

    def __init__(self, objects: list[dict[str, Any]], tmp: pathlib.Path, box: Sandbox) -> None:
        self.objects = objects
        cronjob = one(objects, "CronJob")
        pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        self.schedule = cronjob["metadata"]["labels"][SCHEDULE_LABEL]
        self.account = pod["serviceAccountName"]
        self.token = f"system:serviceaccount:{cronjob['metadata']['namespace']}:{self.account}"
        self.args = [str(a) for a in container["args"]]
        self.namespace = next(a.split("=", 1)[1] for a in self.args if a.startswith("--namespace="))
        self.keep = int(next(a.split("=", 1)[1] for a in self.args if a.startswith("--keep-history=")))
        # The ConfigMap volume, materialised as the kubelet would: one file per key.
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        volume = next(v for v in pod["volumes"] if "configMap" in v)
        configmap = one(objects, "ConfigMap", volume["configMap"]["name"])
        files = tmp / "experiment-volume"
        files.mkdir()
        for key, text in configmap["data"].items():
            (files / key).write_text(text)
        mount = mounts[volume["name"]]
        self.template = yaml.safe_load(configmap["data"]["experiment.yaml"])
        args = [str(files) + a[len(mount):] if a.startswith(mount + "/") else a for a in self.args]
        assert args != self.args, "no argument points into the experiment volume"
        # The image's `chaos-operator` is this install's console script (pyproject [project.scripts]).
        program = shutil.which(container["command"][0], path=str(pathlib.Path(sys.executable).parent))
        assert program is not None, f"{container['command'][0]} is not installed next to {sys.executable}"
        self.argv = [program, *args]
        config = box.emu.write_kubeconfig(tmp / "job-kubeconfig", namespace=cronjob["metadata"]["namespace"],
                                              token=self.token)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_SERVICE")}
        self.env["KUBECONFIG"] = str(config)

    def run(self, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.argv, *extra], env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=False)

    def start(self, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*self.argv, *extra], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)


@pytest.fixture
def job(box: Sandbox, tmp_path: pathlib.Path) -> Job:
    return Job(render(schedule_values()), tmp_path, box)


def runs(box: Sandbox, job: Job) -> list[dict[str, Any]]:
    """The schedule's experiments still there (one being deleted no longer counts)."""
    return [o for o in box.emu.list("chaosexperiments", job.namespace)
            if (o["metadata"].get("labels") or {}).get(SCHEDULE_LABEL) == job.schedule
            and not o["metadata"].get("deletionTimestamp")]


def wait_kept(box: Sandbox, job: Job, names: list[str]) -> None:
    """Until exactly these runs of the schedule remain (a deleted run goes once the operator lets it go)."""
    wait_for(f"runs {names}", lambda: sorted(o["metadata"]["name"] for o in runs(box, job)) == sorted(names), 20)


def created(done: subprocess.CompletedProcess[str], ns: str) -> str:
    marker = f"created chaosexperiment {ns}/"
    assert marker in done.stdout, done.stdout + done.stderr
    return done.stdout.split(marker)[1].split()[0]


def test_the_rendered_cronjob_runs_keeps_n_refuses_overlap_within_its_role(box: Sandbox, job: Job) -> None:
    ns, keep = job.namespace, job.keep
    assert (ns, job.schedule, keep) == ("shop", "weekly-checkout-kill", 8)  # what ci/schedule-values.yaml says
    box.apply(deployment(ns, "checkout", 3, args=APP_ARGS))
    box.wait_ready(ns, "checkout", 3)
    prefix = job.template["metadata"]["generateName"]

    # Retention: N+2 dry runs; after each, min(i, N) runs of the schedule remain, the newest ones.
    names: list[str] = []
    for _ in range(keep + 2):
        done = job.run("--set", "dryRun=true")
        assert done.returncode == 0, done.stdout + done.stderr
        names.append(created(done, ns))
        wait_kept(box, job, names[-keep:])
    assert len(set(names)) == keep + 2 and all(n.startswith(prefix) for n in names)
    assert len(runs(box, job)) == keep

    # A real run to its verdict (which verdict a busy machine gives does not matter: 0 Passed, 1 Failed or
    # 2 Inconclusive, never an error or a timeout), with the template's load and SLOs.
    done = job.run(*SHORT)
    assert done.returncode in (0, 1, 2), done.stdout + done.stderr
    real = created(done, ns)
    obj = box.emu.get("chaosexperiments", ns, real)
    assert obj is not None
    st = obj["status"]
    assert st["phase"] in DONE and st["phases"]["baseline"]["requests"] >= 100, pretty(st)
    assert "verdict " + st["verdict"] in done.stdout
    assert len(wait_for(f"{keep} runs kept", lambda: len(r := runs(box, job)) == keep and r, 20)) == keep

    # Every run carries the schedule's label and the template's own labels.
    for o in runs(box, job):
        labels = o["metadata"]["labels"]
        assert labels[SCHEDULE_LABEL] == job.schedule, labels
        assert labels["app.kubernetes.io/part-of"] == "checkout", labels

    # Overlap: a run still in its chaos phase whose Job was killed; the next Job refuses, creating nothing.
    proc = job.start(*SHORT, "--set", "phases.chaos=60s")
    try:
        busy = wait_for("a run in its chaos phase", lambda: next(
            (o for o in runs(box, job) if (o.get("status") or {}).get("phase") == "Chaos"), None), 40)
        proc.send_signal(signal.SIGKILL)  # the Job's pod killed: the experiment goes on
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    running = busy["metadata"]["name"]
    before = sorted(o["metadata"]["name"] for o in runs(box, job))
    refused = job.run(*SHORT)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert (f"refused: schedule {job.schedule!r}: the previous run is still running in {ns}: {running} (Chaos); "
            "not starting a new one") in refused.stderr, refused.stderr
    assert sorted(o["metadata"]["name"] for o in runs(box, job)) == before
    box.emu.patch("chaosexperiments", ns, running, {"spec": {"abort": True}})
    wait_for("the abort", lambda: ((box.emu.get("chaosexperiments", ns, running) or {}).get("status") or {})
             .get("phase") == "Aborted", 30)
    box.wait_ready(ns, "checkout", 3)

    # Every call the Job's identity made is allowed by the Role the chart binds to its ServiceAccount.
    calls = {Call(c.verb, c.group, c.resource, c.subresource, c.namespace) for c in ALL_CALLS if c.user == job.token}
    assert {(c.verb, c.resource, c.namespace) for c in calls} >= {
        ("create", "chaosexperiments", ns), ("list", "chaosexperiments", ns), ("get", "chaosexperiments", ns),
        ("delete", "chaosexperiments", ns)}, calls
    grants = grants_for(job.objects, job.account, NAMESPACE)
    assert grants, f"no Role bound to ServiceAccount {NAMESPACE}/{job.account}"
    assert denied(grants, calls) == [], sorted(calls)
    print(f"real run {real}: exit {done.returncode}, verdict {st['verdict']}, baseline "
          f"{st['phases']['baseline']['requests']} requests; the Job's calls: {sorted(calls)}")  # shown with -s
