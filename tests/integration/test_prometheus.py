"""Prometheus SLIs and halt conditions against the real Prometheus server scraping a real service."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.engine.deps import Deps
from tests.integration.conftest import experiment, replicas
from tests.integration.prom import PrometheusProcess, free_port
from tests.support.harness import OPERATOR_TOKEN, ServiceThread, StaticResolver
from tests.support.waits import status_of, wait_for, wait_phase

NS = "shop"
ERROR_RATIO = ('(sum(rate(test_requests_total{code=~"5.."}[$__range])) or vector(0))'
               ' / sum(rate(test_requests_total[$__range]))')


def operator(emulator: EmulatorThread, resolver: StaticResolver, *allowed: str) -> OperatorThread:
    """The operator, allowed to query exactly these Prometheus URLs (the chart's prometheus.allowedUrls)."""
    op = OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess")
    op.config.prometheus_urls = allowed
    return op


@pytest.fixture
def prometheus(service: ServiceThread) -> Iterator[PrometheusProcess]:
    with PrometheusProcess(f"127.0.0.1:{service.port}") as prom:
        yield prom


@pytest.fixture
def setup(emulator: EmulatorThread, resolver: StaticResolver) -> Iterator[StaticResolver]:
    with replicas(emulator, {"app": "checkout"}, 2, start_delay=0.3):
        yield resolver


def test_prometheus_slis_become_checks(emulator: EmulatorThread, setup: StaticResolver,
                                       prometheus: PrometheusProcess) -> None:
    prom = {"url": prometheus.url, "queries": [
        {"name": "error-ratio", "query": ERROR_RATIO, "max": 0.01, "phases": ["chaos", "recovery"]},
        {"name": "throughput", "query": "sum(rate(test_requests_total[$__range]))", "min": 50,
         "phases": ["chaos"]},
        {"name": "impossible", "query": "sum(rate(test_requests_total[$__range]))", "min": 1000000,
         "phases": ["recovery"]},
    ]}
    # 8 s windows: rate() needs two scrapes inside the window even when a loaded machine delays one.
    phases = {"baseline": "3s", "chaos": "8s", "recovery": "8s"}
    with operator(emulator, setup, str(prom["url"])):
        emulator.create("chaosexperiments", experiment("sli", NS, prometheus=prom, phases=phases), NS)
        status = wait_phase(emulator, "sli", timeout=60)
    checks = {(c["name"], c["phase"]): c for c in status["checks"]}
    assert checks[("error-ratio", "chaos")]["passed"] and checks[("error-ratio", "recovery")]["passed"]
    assert float(checks[("error-ratio", "chaos")]["observed"]) == 0.0
    # ~100 req/s of load, as Prometheus saw it over an 8 s window scraped every second: rate() over so
    # few samples reads low, so only the order of magnitude is asserted.
    assert 20 <= float(checks[("throughput", "chaos")]["observed"]) <= 150
    assert not checks[("impossible", "recovery")]["passed"]
    assert (status["verdict"], status["reason"]) == ("Failed", "SLOsViolated"), status.get("message")
    assert "impossible" in status["message"]


def test_halt_condition_recovers_at_once(emulator: EmulatorThread, setup: StaticResolver,
                                         prometheus: PrometheusProcess) -> None:
    # Until Prometheus has scraped the first request there is no series, which halts by default ("no data",
    # tested below); this test is about a breach, so it waits for the series.
    prom = {"url": prometheus.url, "haltWhen": [
        {"name": "any-traffic", "query": "sum(test_requests_total)", "max": 1, "onMissing": "ignore"}]}
    phases = {"baseline": "2s", "chaos": "60s", "recovery": "2s"}
    with operator(emulator, setup, str(prom["url"])):
        emulator.create("chaosexperiments", experiment("halt", NS, prometheus=prom, phases=phases), NS)
        status = wait_phase(emulator, "halt")
    assert (status["phase"], status["verdict"], status["reason"]) == ("Completed", "Failed", "Halted")
    halt = next(c for c in status["checks"] if c["name"] == "any-traffic")
    assert not halt["passed"] and float(halt["observed"]) > 1
    assert all(r["state"] == "Recovered" for r in status["injections"])
    assert status["phases"]["chaos"]["requests"] < 100 * 30  # ended long before the 60 s window
    assert status["phases"]["recovery"]["requests"] > 0  # recovery was still measured


def test_halt_latency_from_a_visible_breach_to_every_fault_reverted(
        emulator: EmulatorThread, setup: StaticResolver, prometheus: PrometheusProcess,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The condition's value is its query's evaluation time: every query from `visible` on sees the breach.
    visible = time.time() + 6
    prom = {"url": prometheus.url, "haltWhen": [{"name": "clock", "query": "vector(time())", "max": visible}]}
    phases = {"baseline": "2s", "chaos": "60s", "recovery": "2s"}

    def reverted() -> float | None:
        records = status_of(emulator, "latency").get("injections") or []
        return time.time() if records and all(r["state"] == "Recovered" for r in records) else None

    with operator(emulator, setup, str(prom["url"])):
        emulator.create("chaosexperiments", experiment("latency", NS, prometheus=prom, phases=phases), NS)
        chaos_seen = wait_for("chaos", lambda: status_of(emulator, "latency").get("phase") == "Chaos" and time.time())
        done = wait_for("every fault reverted", reverted, timeout=60, every=0.02)
        status = wait_phase(emulator, "latency")
    assert (status["verdict"], status["reason"]) == ("Failed", "Halted"), status.get("message")
    # From when a query could first see the breach (or the chaos window opened, if later).
    latency = done - max(visible, chaos_seen)
    with capsys.disabled():
        print(f"\nhalt latency: {latency:.2f} s from a breach visible to a query to every fault reverted "
              f"(halt poll {Deps.halt_poll_s:g} s, PodKill)")
    assert latency < 30  # well inside the 60 s window; the figure above is the measurement


def test_unreachable_prometheus_fails_before_injection(emulator: EmulatorThread, setup: StaticResolver,
                                                       service: ServiceThread) -> None:
    before = {p["metadata"]["uid"] for p in emulator.list("pods", NS)}
    prom = {"url": f"http://127.0.0.1:{free_port()}", "queries": [
        {"name": "x", "query": "vector(1)", "max": 2}]}
    with operator(emulator, setup, str(prom["url"])):
        emulator.create("chaosexperiments", experiment("noprom", NS, prometheus=prom), NS)
        status = wait_phase(emulator, "noprom", timeout=60)
    assert (status["phase"], status["reason"]) == ("Failed", "PrometheusUnreachable")
    assert {p["metadata"]["uid"] for p in emulator.list("pods", NS)} == before
    assert service.hits == 0


NO_SERIES = 'sum(test_requests_total{code="999"})'  # a real query whose answer is an empty vector


def test_halt_condition_with_no_series_halts(emulator: EmulatorThread, setup: StaticResolver,
                                             prometheus: PrometheusProcess) -> None:
    prom = {"url": prometheus.url, "haltWhen": [{"name": "no-series", "query": NO_SERIES, "max": 1}]}
    phases = {"baseline": "2s", "chaos": "60s", "recovery": "2s"}
    with operator(emulator, setup, str(prom["url"])):
        emulator.create("chaosexperiments", experiment("blind", NS, prometheus=prom, phases=phases), NS)
        status = wait_phase(emulator, "blind")
    assert (status["phase"], status["verdict"], status["reason"]) == ("Completed", "Failed", "Halted")
    halt = next(c for c in status["checks"] if c["name"] == "no-series")
    assert (halt["observed"], halt["passed"]) == ("no data", False)
    assert all(r["state"] == "Recovered" for r in status["injections"])
    assert status["phases"]["chaos"]["requests"] < 100 * 30  # ended long before the 60 s window


def test_halt_condition_with_no_series_runs_on_when_told_to_ignore(emulator: EmulatorThread, setup: StaticResolver,
                                                                  prometheus: PrometheusProcess) -> None:
    prom = {"url": prometheus.url,
            "haltWhen": [{"name": "no-series", "query": NO_SERIES, "max": 1, "onMissing": "ignore"}]}
    phases = {"baseline": "2s", "chaos": "5s", "recovery": "2s"}
    with operator(emulator, setup, str(prom["url"])):
        emulator.create("chaosexperiments", experiment("sighted", NS, prometheus=prom, phases=phases), NS)
        status = wait_phase(emulator, "sighted")
    assert status["reason"] != "Halted", status.get("message")
    assert not any(c["name"] == "no-series" for c in status["checks"])
    assert status["phases"]["chaos"]["requests"] >= 100 * 4  # the whole 5 s window ran


# No SSRF: only allowed URLs are queried, link-local never, and no answer of Prometheus reaches the status.

def refused(emulator: EmulatorThread, setup: StaticResolver, service: ServiceThread, name: str, url: str,
            *allowed: str) -> dict[str, Any]:
    before = {p["metadata"]["uid"] for p in emulator.list("pods", NS)}
    prom = {"url": url, "queries": [{"name": "x", "query": "vector(1)", "max": 2}]}
    with operator(emulator, setup, *allowed):
        emulator.create("chaosexperiments", experiment(name, NS, prometheus=prom), NS)
        status = wait_phase(emulator, name, timeout=60)
    assert (status["phase"], status["reason"]) == ("Failed", "PrometheusRefused"), status
    assert {p["metadata"]["uid"] for p in emulator.list("pods", NS)} == before  # nothing touched
    assert service.hits == 0 and not status.get("injections")
    return status


def test_a_prometheus_url_not_on_the_allow_list_is_refused(emulator: EmulatorThread, setup: StaticResolver,
                                                            service: ServiceThread,
                                                            prometheus: PrometheusProcess) -> None:
    status = refused(emulator, setup, service, "elsewhere", prometheus.url, "http://prometheus.monitoring:9090")
    assert "is not on this installation's allow-list" in status["message"]


def test_without_an_allowed_url_prometheus_features_are_refused(emulator: EmulatorThread, setup: StaticResolver,
                                                                 service: ServiceThread,
                                                                 prometheus: PrometheusProcess) -> None:
    status = refused(emulator, setup, service, "none-allowed", prometheus.url)
    assert "Prometheus is disabled in this installation" in status["message"]


def test_a_link_local_url_is_refused_even_when_allowed(emulator: EmulatorThread, setup: StaticResolver,
                                                        service: ServiceThread) -> None:
    url = "http://169.254.169.254/latest/meta-data"
    status = refused(emulator, setup, service, "metadata", url, url)
    assert "link-local" in status["message"]


def test_no_prometheus_answer_is_copied_into_status(emulator: EmulatorThread, setup: StaticResolver,
                                                     prometheus: PrometheusProcess) -> None:
    """A query Prometheus rejects (400 with its parser's error text in the body): the check says HTTP 400, and
    nothing of the body is anywhere in the status."""
    prom = {"url": prometheus.url, "queries": [
        {"name": "broken", "query": "sum(rate(test_requests_total[$__range])) by (", "max": 1, "phases": ["chaos"]}]}
    phases = {"baseline": "3s", "chaos": "3s", "recovery": "2s"}
    with operator(emulator, setup, str(prom["url"])):
        emulator.create("chaosexperiments", experiment("broken", NS, prometheus=prom, phases=phases), NS)
        status = wait_phase(emulator, "broken", timeout=60)
    check = next(c for c in status["checks"] if c["name"] == "broken")
    assert check["observed"] == "error: prometheus query failed: HTTP 400" and not check["passed"]
    text = json.dumps(status)
    for leaked in ("parse error", "bad_data", "unexpected end of input"):
        assert leaked not in text, (leaked, text)


def test_an_external_name_load_target_is_refused(emulator: EmulatorThread, setup: StaticResolver,
                                                  service: ServiceThread) -> None:
    emulator.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "outside"},
                                 "spec": {"type": "ExternalName", "externalName": "metadata.google.internal",
                                          "ports": [{"port": 8080}]}}, NS)
    load = {"service": {"name": "outside", "port": 8080}, "rate": 20}
    with operator(emulator, setup):
        emulator.create("chaosexperiments", experiment("external", NS, load=load), NS)
        status = wait_phase(emulator, "external", timeout=60)
    assert (status["phase"], status["reason"]) == ("Failed", "LoadTargetRefused"), status
    assert "ExternalName" in status["message"] and service.hits == 0
