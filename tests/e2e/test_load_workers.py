"""Load sent by load workers, end to end: the real operator (`--load-runner=workers`) creates the experiment's
indexed Job, the sandbox runs its pods as real `chaos-operator loadworker` processes, the operator starts them at
one instant, pulls their state over HTTP and cuts the phases. Then one worker SIGKILLed mid-chaos: the run still
ends (bounded pulls), Inconclusive, with that phase's coverage below 95 % in status."""

from __future__ import annotations

import base64
import copy
import json
import os
import pathlib
import signal
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.loadworker import job
from chaos_operator.loadworker.record import decode
from tests.support.tls import make_ca_and_server
from tests.support.waits import status_of, wait_for, wait_phase
from tests.support.workloads import deployment, pretty

pytestmark = pytest.mark.timeout(180)
KEY = b"e2e-load-token-key-0123456789abcdef"
APP_ARGS = ["--latency-ms", "5", "--jitter-ms", "5"]
SPEC: dict[str, Any] = {
    "target": {"selector": {"matchLabels": {"app": "checkout"}}, "mode": "fixed", "value": 1},
    "fault": {"kind": "PodKill", "gracePeriodSeconds": 0},
    "load": {"service": {"name": "checkout", "port": 8080}, "path": "/", "rate": 50, "concurrency": 16,
             "timeout": "1s", "workers": 2},
    "phases": {"baseline": "4s", "chaos": "6s", "recovery": "4s"},
    "slos": {"maxErrorRate": 0.05, "maxLatencyP95": "500ms"},
}


@pytest.fixture
def workers_operator(box: Sandbox) -> Iterator[OperatorThread]:
    with OperatorThread(box.url, box.resolver, ready_timeout=120, load_runner="workers",
                        load_token_key=KEY) as op:
        yield op


def start(box: Sandbox, ns: str, **spec: Any) -> dict[str, Any]:
    box.apply(deployment(ns, "checkout", 3, args=APP_ARGS))
    box.wait_ready(ns, "checkout", 3)
    body = copy.deepcopy(SPEC)
    for key, value in spec.items():
        body[key] = {**body[key], **value} if isinstance(value, dict) else value
    (created,) = box.apply([{"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
                             "metadata": {"name": "kill", "namespace": ns}, "spec": body}])
    return created


def worker_pods(box: Sandbox, ns: str, uid: str, count: int) -> list[dict[str, Any]]:
    """The experiment's worker pods once `count` are Ready with an address."""
    def ready() -> list[dict[str, Any]] | None:
        pods = [p for p in box.emu.list("pods", ns, label_selector=f"{job.UID_LABEL}={uid}")
                if (p.get("status") or {}).get("podIP") and any(
                    c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]
        return pods if len(pods) >= count else None
    return list(wait_for(f"{count} load workers Ready", ready, 60, every=0.1))


def state(pod: dict[str, Any], uid: str) -> dict[str, Any]:
    """GET /state of one worker, as the operator does (its token derived from the operator's key)."""
    request = urllib.request.Request(f"http://{pod['status']['podIP']}:{job.STATE_PORT}/state",
                                     headers={"Authorization": f"Bearer {job.state_token(KEY, uid)}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.load(response))


def test_two_workers_send_the_load_and_status_shows_full_coverage(box: Sandbox,
                                                                  workers_operator: OperatorThread) -> None:
    ns = "e2e-workers"
    uid = start(box, ns)["metadata"]["uid"]
    pods = worker_pods(box, ns, uid, 2)
    policy = box.emu.get("networkpolicies", ns, job.names("kill", uid)["policy"])
    assert policy is not None and all(  # selects the workers; what it lets in: tests/unit/test_loadworker_job.py
        policy["spec"]["podSelector"]["matchLabels"].items() <= p["metadata"]["labels"].items() for p in pods)
    wait_phase(box.emu, "kill", ("Recovery",), ns=ns, timeout=60)
    states = sorted((state(p, uid) for p in pods), key=lambda s: s["index"])
    # Two processes share one schedule: each was told the same start and sends its half.
    assert [s["index"] for s in states] == [0, 1] and len({s["startAt"] for s in states}) == 1, states
    sent = [sum(sec["sent"] for sec in s["seconds"]) for s in states]
    assert min(sent) > 0 and abs(sent[0] - sent[1]) <= 2, sent
    st = wait_phase(box.emu, "kill", ns=ns, timeout=90)
    print("\n" + pretty({k: st["phases"][k] for k in ("baseline", "chaos", "recovery")}))
    assert st["phase"] == "Completed" and st.get("verdict") is not None, pretty(st)
    assert st["reason"] != "LowCoverage", pretty(st)
    for name in ("baseline", "chaos", "recovery"):
        phase = st["phases"][name]
        assert phase["coverage"] >= 0.95, (name, pretty(phase))
        assert phase["requests"] + (phase.get("ramp") or {}).get("requests", 0) > 0, (name, pretty(phase))
    assert st["phases"]["baseline"]["errors"] == 0, pretty(st["phases"])
    assert not any(c.get("inconclusive") for c in st["checks"]), pretty(st["checks"])
    # The run's objects are gone with it: the Job (and its pods), its config, its token and its policy.
    names = job.names("kill", uid)
    wait_for("the load Job, ConfigMap, Secret and NetworkPolicy deleted", lambda: not any(
        box.emu.get(kind, ns, names[key]) for kind, key in (("jobs", "job"), ("configmaps", "config"),
                                                            ("secrets", "token"), ("networkpolicies", "policy"))), 30)
    assert not workers_operator.crashed, workers_operator.error


def test_a_worker_killed_mid_chaos_lowers_coverage_and_the_run_ends_inconclusive(
        box: Sandbox, workers_operator: OperatorThread) -> None:
    ns = "e2e-workers-lost"
    uid = start(box, ns, load={"workers": 3, "rate": 60}, phases={"baseline": "4s", "chaos": "8s",
                                                                  "recovery": "4s"})["metadata"]["uid"]
    pods = worker_pods(box, ns, uid, 3)
    wait_for("two injected seconds of chaos", lambda: any(
        i["state"] in ("Injected", "Recovered") for i in status_of(box.emu, "kill", ns).get("injections", [])), 60)
    victim = pods[0]["metadata"]["name"]
    pid = box.pod_pid(ns, victim)
    assert pid is not None, victim
    os.kill(pid, signal.SIGKILL)
    # Bounded: every pull gives up on a worker that is gone, so the run ends well within this.
    st = wait_phase(box.emu, "kill", ns=ns, timeout=90)
    print("\n" + pretty({k: st["phases"].get(k) for k in ("baseline", "chaos", "recovery")}))
    assert (st["phase"], st["verdict"], st["reason"]) == ("Completed", "Inconclusive", "LowCoverage"), pretty(st)
    assert st["phases"]["baseline"]["coverage"] >= 0.95, pretty(st["phases"])
    assert st["phases"]["chaos"]["coverage"] < 0.95, pretty(st["phases"])
    chaos_checks = [c for c in st["checks"] if c["phase"] == "chaos"]
    assert chaos_checks and all(c["inconclusive"] and not c["passed"] for c in chaos_checks), pretty(st["checks"])
    assert "coverage" in st["message"], st["message"]
    assert not workers_operator.crashed, workers_operator.error


def test_eight_workers_take_one_start_and_their_skew_is_printed(box: Sandbox,
                                                               workers_operator: OperatorThread) -> None:
    """The start skew, as a proxy: per worker the smallest send lag (actual - intended send time) of its first
    second, and their spread, printed; asserted only that all eight took the same start."""
    ns = "e2e-workers-skew"
    uid = start(box, ns, load={"workers": 8, "rate": 80}, fault={"kind": "PodKill", "gracePeriodSeconds": 0},
                phases={"baseline": "3s", "chaos": "3s", "recovery": "3s"})["metadata"]["uid"]
    pods = worker_pods(box, ns, uid, 8)
    wait_phase(box.emu, "kill", ("Chaos", "Recovery"), ns=ns, timeout=60)
    states = [state(p, uid) for p in pods]
    assert len({s["startAt"] for s in states}) == 1 and sorted(s["index"] for s in states) == list(range(8))
    first_lag_ms = []
    for s in states:
        first = min(s["seconds"], key=lambda sec: sec["second"])
        first_lag_ms.append(decode(first["sendLag"]).get_min_value() / 1000)
    print(f"\nstart skew across 8 workers: smallest send lag of each one's first second "
          f"{min(first_lag_ms):.2f}..{max(first_lag_ms):.2f} ms, spread {max(first_lag_ms) - min(first_lag_ms):.2f} ms")
    st = wait_phase(box.emu, "kill", ns=ns, timeout=90)
    assert st["phase"] == "Completed", pretty(st)
    assert not workers_operator.crashed, workers_operator.error


def test_a_dry_run_starts_no_worker(box: Sandbox, workers_operator: OperatorThread) -> None:
    ns = "e2e-workers-dry"
    uid = start(box, ns, dryRun=True)["metadata"]["uid"]
    st = wait_phase(box.emu, "kill", ns=ns, timeout=60)
    assert (st["phase"], st["reason"]) == ("Completed", "DryRun"), pretty(st)
    created = {(c.resource, c.client) for c in box.emu.emulator.calls if c.verb == "create" and c.namespace == ns}
    assert not {r for r, _ in created} & {"jobs", "configmaps", "secrets"}, created  # no worker was ever made
    assert box.emu.list("pods", ns, label_selector=f"{job.UID_LABEL}={uid}") == []


def test_a_post_over_https_with_a_json_body_and_a_bearer_token_from_a_secret(
        box: Sandbox, workers_operator: OperatorThread, tmp_path: pathlib.Path) -> None:
    """The worker pods mount the user's Secret and ConfigMap keys; the service serves HTTPS with a certificate of a
    CA made here, and answers 401 without the token and 400 without a JSON body, so a baseline without errors is the
    proof all three arrived and the CA verified the server. The operator never reads a Secret (no get/list/watch
    on secrets recorded for it)."""
    ns = "e2e-workers-post"
    token = "s3cret-token-for-the-demo"
    ca, _ = make_ca_and_server(tmp_path, f"checkout.{ns}.svc")
    box.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
               {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-token", "namespace": ns},
                "stringData": {"token": token}},
               {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": "checkout-tls", "namespace": ns},
                "data": {name: base64.b64encode((tmp_path / f"srv.{ext}").read_bytes()).decode()
                         for name, ext in (("tls.crt", "crt"), ("tls.key", "key"))}},
               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bodies", "namespace": ns},
                "data": {"order.json": json.dumps({"item": "chaos-monkey", "quantity": 2}),
                         "ca.crt": ca.read_text()}}])
    app = deployment(ns, "checkout", 3, args=[*APP_ARGS, "--require-header", f"Authorization=Bearer {token}",
                                              "--require-json", "--tls-secret", "checkout-tls"])
    app[0]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["scheme"] = "HTTPS"
    box.apply(app)
    box.wait_ready(ns, "checkout", 3)
    body = copy.deepcopy(SPEC)
    body["load"].update(method="POST", headers={"Content-Type": "application/json"},
                        bodyFrom={"name": "bodies", "key": "order.json"},
                        auth={"bearerToken": {"name": "api-token", "key": "token"}},
                        tls={"caBundle": {"name": "bodies", "key": "ca.crt"}, "serverName": f"checkout.{ns}.svc"})
    box.apply([{"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
                "metadata": {"name": "kill", "namespace": ns}, "spec": body}])
    st = wait_phase(box.emu, "kill", ns=ns, timeout=90)
    assert st["phase"] == "Completed" and st["reason"] != "LowCoverage", pretty(st)
    baseline = st["phases"]["baseline"]
    assert baseline["errors"] == 0 and baseline["requests"] >= 100 and baseline["coverage"] >= 0.95, pretty(baseline)
    read = {c.verb for c in box.emu.emulator.calls
            if c.resource == "secrets" and c.namespace == ns and c.client in ("chaos-operator", "kopf")}
    assert read <= {"create", "delete"}, read


def test_a_worker_that_cannot_start_says_why_in_status(box: Sandbox, workers_operator: OperatorThread) -> None:
    """A CA bundle that holds no certificate: the worker exits at once, and the run fails with the worker's own words
    (terminationMessagePolicy FallbackToLogsOnError puts its log's tail into the pod's status), not just "ended"."""
    ns = "e2e-workers-bad-ca"
    box.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "trust", "namespace": ns},
                "data": {"ca.crt": "not a certificate\n"}}])
    start(box, ns, load={"tls": {"caBundle": {"name": "trust", "key": "ca.crt"}}})
    st = wait_phase(box.emu, "kill", ns=ns, timeout=90)
    assert (st["phase"], st["reason"]) == ("Failed", "LoadWorkersFailed"), pretty(st)
    assert "before the start: exit code 1: Error: " in st["message"], st["message"]
    assert "NO_CERTIFICATE_OR_CRL_FOUND" in st["message"], st["message"]  # the worker's last log line
    assert not st.get("injections"), pretty(st)  # nothing was injected without a load to measure it
