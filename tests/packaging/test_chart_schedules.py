"""Scheduled experiments (values.schedules): one CronJob per schedule with the schedule's fields and safe
defaults, the experiment template in a ConfigMap that the operator's own validator accepts, and a Job that
runs `chaos-operator submit --wait` from the operator's image under a ServiceAccount of its own."""

from __future__ import annotations

import copy
import importlib
from typing import Any

import yaml

from chaos_operator.cli.validate.document import validate_manifest
from tests.support.chart import NAMESPACE, find, one, render, schedule_values

SUBMIT_FLAGS = ("--namespace", "--schedule", "--keep-history", "--wait", "--timeout")


def minimal(**fields: Any) -> dict[str, Any]:
    experiment = schedule_values()["schedules"][0]["experiment"]
    return {"schedules": [{"name": "nightly", "namespace": "payments", "schedule": "30 2 * * *",
                           "experiment": copy.deepcopy(experiment), **fields}]}


def test_each_schedule_is_a_cronjob_with_its_fields() -> None:
    objects = render(schedule_values())
    cronjob = one(objects, "CronJob", "chaos-operator-weekly-checkout-kill")
    assert cronjob["metadata"]["namespace"] == NAMESPACE
    assert cronjob["metadata"]["labels"]["chaosoperator.dev/schedule"] == "weekly-checkout-kill"
    spec = cronjob["spec"]
    assert {k: spec[k] for k in ("schedule", "timeZone", "suspend", "concurrencyPolicy", "startingDeadlineSeconds",
                                 "successfulJobsHistoryLimit", "failedJobsHistoryLimit")} == {
        "schedule": "0 10 * * 1", "timeZone": "Europe/Berlin", "suspend": False, "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 600, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 5}
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0 and job["activeDeadlineSeconds"] == 1200
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == "chaos-operator-weekly-checkout-kill"
    assert pod["restartPolicy"] == "Never"
    container = pod["containers"][0]
    assert container["command"] == ["chaos-operator"]
    assert container["args"] == ["submit", "/etc/chaos-operator/schedule/experiment.yaml", "--namespace=shop",
                                 "--schedule=weekly-checkout-kill", "--keep-history=8", "--wait", "--timeout=900"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mount = next(m for m in container["volumeMounts"] if m["name"] == "experiment")
    assert mount == {"name": "experiment", "mountPath": "/etc/chaos-operator/schedule", "readOnly": True}
    assert {"name": "experiment", "configMap": {"name": "chaos-operator-weekly-checkout-kill"}} in pod["volumes"]


def test_defaults_never_overlap_runs() -> None:
    spec = one(render(minimal()), "CronJob")["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["suspend"] is False
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    assert "timeZone" not in spec and "startingDeadlineSeconds" not in spec
    args = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--keep-history=10" in args and "--timeout=3600" in args
    assert one(render(minimal(suspend=True, concurrencyPolicy="Replace")), "CronJob")["spec"]["suspend"] is True


def test_the_template_is_a_valid_experiment() -> None:
    for values in (schedule_values(), minimal()):
        template = yaml.safe_load(one(render(values), "ConfigMap")["data"]["experiment.yaml"])
        assert template["apiVersion"] == "chaosoperator.dev/v1alpha1" and template["kind"] == "ChaosExperiment"
        assert validate_manifest(template) == []
    broken = minimal()
    broken["schedules"][0]["experiment"]["spec"]["phases"]["chaos"] = "forever"
    template = yaml.safe_load(one(render(broken), "ConfigMap")["data"]["experiment.yaml"])
    assert validate_manifest(template) != []  # what `chaos-operator validate` would say before installing


def test_several_schedules_get_one_set_each() -> None:
    values = minimal()
    values["schedules"].append({**values["schedules"][0], "name": "weekly", "namespace": "shop"})
    objects = render(values)
    assert [o["metadata"]["name"] for o in find(objects, "CronJob")] == ["chaos-operator-nightly",
                                                                       "chaos-operator-weekly"]
    roles = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in find(objects, "Role")}
    assert {("payments", "chaos-operator-nightly"), ("shop", "chaos-operator-weekly")} <= roles


def test_submit_arguments_parse_with_submits_own_parser() -> None:
    """The Job's argv parses with `chaos-operator submit`'s own parser (chaos_operator/submit.py, added on the
    report branch); until that is merged, the test checks the flags the chart promises it."""
    args = one(render(schedule_values()), "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "containers"][0]["args"]
    assert args[0] == "submit" and all(any(a.startswith(f) for a in args) for f in SUBMIT_FLAGS)
    try:
        submit: Any = importlib.import_module("chaos_operator.cli.submit.command")
    except ImportError:
        return
    parsed = submit.parser().parse_args(args[1:])
    assert parsed.file == "/etc/chaos-operator/schedule/experiment.yaml"
    assert (parsed.namespace, parsed.schedule, parsed.keep_history, parsed.wait, parsed.timeout) == (
        "shop", "weekly-checkout-kill", 8, True, 900)
