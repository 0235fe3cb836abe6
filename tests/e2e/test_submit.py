"""`chaos-operator submit` as CI and the chart's CronJob run it: a real process against the box, with the real
operator; the exit code says the verdict."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import subprocess
import sys
from html import escape as html_escape
from typing import Any

import pytest
import yaml
from chaos_sandbox.cluster import Sandbox
from junitparser import Failure, JUnitXml

from tests.support.reports import assert_self_contained, png_size
from tests.support.waits import wait_for
from tests.support.workloads import APP_ARGS, deployment, pretty

pytestmark = pytest.mark.usefixtures("operator")  # the real operator runs during each test

# 100 req/s for 2 s: a baseline of ~200 requests (fewer than 100 would end Inconclusive/TooFewSamples).
SPEC: dict[str, Any] = {
    "target": {"selector": {"matchLabels": {"app": "checkout"}}, "mode": "fixed", "value": 1},
    "fault": {"kind": "PodKill", "gracePeriodSeconds": 0},
    "load": {"service": {"name": "checkout", "port": 8080}, "path": "/", "rate": 100, "concurrency": 64,
             "timeout": "1s"},
    "phases": {"baseline": "2s", "chaos": "3s", "recovery": "3s"},
    # Generous latency limits: on a loaded 2-core machine the sandbox's 10 ms service answers in ~0.5 s at p95
    # (the API emulator, the operator and its load share one process). Verdicts here hinge on errors.
    "slos": {"maxErrorRate": 0.1, "maxLatencyP95": "1s"},
}
DONE = ("Completed", "Aborted", "Failed")


def manifest(tmp: pathlib.Path, ns: str, name: str = "gate", **spec: Any) -> pathlib.Path:
    body = {**SPEC, **spec}
    doc = {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
           "metadata": {"name": name, "namespace": ns}, "spec": body}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def submit(box: Sandbox, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "chaos_operator", "submit", "--server", box.url, "--poll", "0.2", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def workload(box: Sandbox, ns: str, replicas: int) -> None:
    box.apply(deployment(ns, "checkout", replicas, args=APP_ARGS))
    box.wait_ready(ns, "checkout", replicas)


def experiments(box: Sandbox, ns: str) -> list[dict[str, Any]]:
    return list(box.emu.list("chaosexperiments", ns))


def status(box: Sandbox, ns: str, name: str) -> dict[str, Any]:
    return dict((box.emu.get("chaosexperiments", ns, name) or {}).get("status") or {})


def test_a_passing_run_exits_0_with_junit_json_and_a_timeline(box: Sandbox, tmp_path: pathlib.Path) -> None:
    ns = "sub-pass"
    workload(box, ns, 3)
    junit = tmp_path / "junit.xml"
    # On a busy machine the sandbox's latency is noisy: recovery is judged against the baseline's p95 times
    # (1 + maxLatencyDegradation), 1.5 by default, which a loaded machine's spikes alone can break.
    done = submit(box, str(manifest(tmp_path, ns)), "--wait", "-o", "json", "--junit", str(junit),
                  "--set", "phases.recovery=5s", "--set", "slos.maxLatencyDegradation=5000%")
    assert done.returncode == 0, done.stdout + done.stderr
    st = json.loads(done.stdout)
    assert (st["phase"], st["verdict"]) == ("Completed", "Passed"), pretty(st)
    # Live progress went to stderr (stdout is the JSON): phases, and each phase's figures as they landed.
    for text in ("created chaosexperiment sub-pass/gate", "Baseline", "Chaos", "Recovery", "baseline figures:",
                 "chaos figures:", "recovery figures:", "1 Injected", "Completed  verdict Passed"):
        assert text in done.stderr, (text, done.stderr)
    suite = next(iter(JUnitXml.fromfile(str(junit))))
    cases = list(suite)
    assert len(cases) == len(st["checks"]) >= 2
    assert {c.name for c in cases} == {f"{c['name']} ({c['phase']})" for c in st["checks"]}
    assert all(case.is_passed for case in cases)
    tl = st["timeline"]
    assert [w["phase"] for w in tl["windows"]] == ["baseline", "chaos", "recovery"]
    assert tl["stepSeconds"] == 1 and 9 <= len(tl["points"]) <= 10
    assert sum(p["requests"] for p in tl["points"]) >= 900
    assert [m["kind"] for m in tl["marks"]] == ["Injected", "Recovered"]
    chaos = tl["windows"][1]
    assert chaos["start"] <= tl["marks"][0]["t"] <= chaos["end"] + 1


def test_a_failing_run_exits_1_and_junit_names_the_failed_check(box: Sandbox, tmp_path: pathlib.Path) -> None:
    ns = "sub-fail"
    workload(box, ns, 1)
    junit = tmp_path / "junit.xml"
    path = manifest(tmp_path, ns, target={"selector": {"matchLabels": {"app": "checkout"}}, "mode": "one"})
    done = submit(box, str(path), "--wait", "--junit", str(junit), "--set", "slos.maxErrorRate=0.01")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "verdict Failed" in done.stdout and "PHASE" in done.stdout  # progress, then the report table
    st = status(box, ns, "gate")
    suite = next(iter(JUnitXml.fromfile(str(junit))))
    cases = list(suite)
    assert len(cases) == len(st["checks"])
    failed = {c.name for c in cases if any(isinstance(r, Failure) for r in c.result)}
    # Recovery may fail too on a busy machine (the replacement's process starts late): not the point here.
    assert failed == {f"{c['name']} ({c['phase']})" for c in st["checks"] if not c["passed"]}
    assert "maxErrorRate (chaos)" in failed, pretty(st["checks"])
    # The report of this real run: the picture and a self-contained page.
    page, picture = tmp_path / "gate.html", tmp_path / "gate.png"
    report = subprocess.run([sys.executable, "-m", "chaos_operator", "report", "gate", "-n", ns, "--server",
                             box.url, "--html", str(page), "--png", str(picture)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert report.returncode == 0, report.stdout + report.stderr
    assert png_size(picture.read_bytes()) == (1000, 600)
    html = page.read_text()
    assert_self_contained(html)
    for figure in (f">{st['phases']['chaos']['requests']}<", f">{st['phases']['chaos']['errors']}<",
                   st["phases"]["baseline"]["latency"]["p95"], "maxErrorRate", "FAIL", ">Failed<",
                   html_escape(st["message"])):
        assert figure in html, figure
    embedded = base64.b64decode(html.split("data:image/png;base64,")[1].split('"')[0])
    assert png_size(embedded) == (1000, 600)
    box.wait_ready(ns, "checkout", 1)


def test_an_unhealthy_baseline_exits_2(box: Sandbox, tmp_path: pathlib.Path) -> None:
    ns = "sub-inconclusive"
    workload(box, ns, 1)
    # The service answers in ~10 ms: a 1 ms p95 is broken before any fault, so nothing is injected.
    done = submit(box, str(manifest(tmp_path, ns)), "--wait", "--set", "slos.maxLatencyP95=1ms")
    assert done.returncode == 2, done.stdout + done.stderr
    st = status(box, ns, "gate")
    assert (st["verdict"], st["reason"], st.get("injections", [])) == ("Inconclusive", "BaselineUnhealthy", [])
    assert [w["phase"] for w in st["timeline"]["windows"]] == ["baseline"]


def test_an_aborted_run_exits_3(box: Sandbox, tmp_path: pathlib.Path) -> None:
    ns = "sub-abort"
    workload(box, ns, 3)
    argv = [sys.executable, "-m", "chaos_operator", "submit", "--server", box.url, "--poll", "0.2", "--wait",
            str(manifest(tmp_path, ns)), "--set", "phases.chaos=60s"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for("the chaos phase", lambda: status(box, ns, "gate").get("phase") == "Chaos", 30)
        box.emu.patch("chaosexperiments", ns, "gate", {"spec": {"abort": True}})
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 3, out + err
    assert "Aborted" in out
    # The timeline covers what ran: the baseline and the part of the chaos phase before the abort.
    assert [w["phase"] for w in status(box, ns, "gate")["timeline"]["windows"]] == ["baseline", "chaos"]
    box.wait_ready(ns, "checkout", 3)


def test_a_timeout_exits_4_and_can_abort_the_run(box: Sandbox, tmp_path: pathlib.Path) -> None:
    ns = "sub-timeout"
    workload(box, ns, 3)
    done = submit(box, str(manifest(tmp_path, ns)), "--wait", "--timeout", "1", "--abort-on-timeout",
                  "--set", "phases.chaos=60s", "--junit", str(tmp_path / "j.xml"))
    assert done.returncode == 4, done.stdout + done.stderr
    assert "timed out after 1s" in done.stdout
    st = wait_for("the abort", lambda: (s := status(box, ns, "gate")).get("phase") in DONE and s, 30)
    assert st["phase"] == "Aborted", pretty(st)
    (case,) = list(next(iter(JUnitXml.fromfile(str(tmp_path / "j.xml")))))
    assert case.name == "verdict" and not case.is_passed
    box.wait_ready(ns, "checkout", 3)


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "phases.chaos=2h"], "spec.phases.chaos"),
    (["--set", "phases.warmup=1s"], "spec.phases.warmup is not a field"),
    (["--set", "load.rate=fast"], "is not an integer"),
    (["--set", "load"], "expected key=value"),
    (["-n", "elsewhere"], "does not match -n"),
    (["--keep-history", "2"], "--keep-history N needs --schedule"),
    (["--wait", "--timeout", "soon"], "invalid float value"),
])
def test_bad_input_exits_3_before_anything_is_created(box: Sandbox, tmp_path: pathlib.Path, args: list[str],
                                                      message: str) -> None:
    ns = "sub-bad"
    done = submit(box, str(manifest(tmp_path, ns)), *args)
    assert done.returncode == 3, done.stdout + done.stderr
    assert message in done.stderr, done.stderr
    assert experiments(box, ns) == []


def test_a_schedule_keeps_exactly_n_runs_and_never_overlaps(box: Sandbox, tmp_path: pathlib.Path) -> None:
    ns = "sub-schedule"
    workload(box, ns, 3)
    # The chart's ConfigMap template: a fixed name becomes a generateName prefix for each run.
    template = manifest(tmp_path, ns, name="nightly", dryRun=True)
    flags = ["--schedule", "nightly", "--keep-history", "2", "--wait"]
    names = []
    for _ in range(4):
        done = submit(box, str(template), *flags, "-o", "json")
        assert done.returncode == 0, done.stdout + done.stderr
        names.append(done.stderr.split("created chaosexperiment sub-schedule/")[1].split()[0])
    assert all(n.startswith("nightly-") for n in names) and len(set(names)) == 4
    kept = wait_for("retention", lambda: len(items := experiments(box, ns)) == 2 and items, 20)
    assert sorted(o["metadata"]["name"] for o in kept) == sorted(names[-2:])
    assert all(o["metadata"]["labels"]["chaosoperator.dev/schedule"] == "nightly" for o in kept)
    # A run still going (its Job may have been killed): the next one is refused with the reason, nothing created.
    long_run = submit(box, str(template), "--schedule", "nightly", "--set", "dryRun=false",
                      "--set", "phases.chaos=60s")
    assert long_run.returncode == 0, long_run.stdout + long_run.stderr
    running = long_run.stdout.split("created chaosexperiment sub-schedule/")[1].split()[0]
    refused = submit(box, str(template), *flags)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert f"previous run is still running in {ns}: {running} (" in refused.stderr, refused.stderr
    assert len(experiments(box, ns)) == 3
    box.emu.patch("chaosexperiments", ns, running, {"spec": {"abort": True}})
    wait_for("the abort", lambda: status(box, ns, running).get("phase") in DONE, 30)
    box.wait_ready(ns, "checkout", 3)


def test_report_and_submit_use_the_kubeconfig_outside_a_pod(box: Sandbox, tmp_path: pathlib.Path) -> None:
    ns = "sub-kubeconfig"
    workload(box, ns, 3)
    config = box.write_kubeconfig(tmp_path / "config", namespace=ns)
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"} | {"KUBECONFIG": str(config)}
    path = manifest(tmp_path, ns, dryRun=True)
    doc = yaml.safe_load(path.read_text())
    del doc["metadata"]["namespace"]  # the context's namespace applies
    path.write_text(yaml.safe_dump(doc))
    base = [sys.executable, "-m", "chaos_operator"]
    done = subprocess.run([*base, "submit", str(path), "--wait"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = subprocess.run([*base, "report", "gate"], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert report.returncode == 0, report.stdout + report.stderr
    assert f"Experiment: {ns}/gate" in report.stdout and "DryRun" in report.stdout
