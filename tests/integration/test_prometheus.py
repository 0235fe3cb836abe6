"""Prometheus SLIs and halt conditions against the real Prometheus server scraping a real service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.operator_thread import OperatorThread

from tests.integration.conftest import experiment, replicas
from tests.integration.prom import PrometheusProcess, free_port
from tests.support.harness import OPERATOR_TOKEN, ServiceThread, StaticResolver
from tests.support.waits import wait_phase

NS = "shop"
ERROR_RATIO = ('(sum(rate(test_requests_total{code=~"5.."}[$__range])) or vector(0))'
               ' / sum(rate(test_requests_total[$__range]))')


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
    with OperatorThread(emulator.url, setup, token=OPERATOR_TOKEN):
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
    with OperatorThread(emulator.url, setup, token=OPERATOR_TOKEN):
        emulator.create("chaosexperiments", experiment("halt", NS, prometheus=prom, phases=phases), NS)
        status = wait_phase(emulator, "halt")
    assert (status["phase"], status["verdict"], status["reason"]) == ("Completed", "Failed", "Halted")
    halt = next(c for c in status["checks"] if c["name"] == "any-traffic")
    assert not halt["passed"] and float(halt["observed"]) > 1
    assert all(r["state"] == "Recovered" for r in status["injections"])
    assert status["phases"]["chaos"]["requests"] < 100 * 30  # ended long before the 60 s window
    assert status["phases"]["recovery"]["requests"] > 0  # recovery was still measured


def test_unreachable_prometheus_fails_before_injection(emulator: EmulatorThread, setup: StaticResolver,
                                                       service: ServiceThread) -> None:
    before = {p["metadata"]["uid"] for p in emulator.list("pods", NS)}
    prom = {"url": f"http://127.0.0.1:{free_port()}", "queries": [
        {"name": "x", "query": "vector(1)", "max": 2}]}
    with OperatorThread(emulator.url, setup, token=OPERATOR_TOKEN):
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
    with OperatorThread(emulator.url, setup, token=OPERATOR_TOKEN):
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
    with OperatorThread(emulator.url, setup, token=OPERATOR_TOKEN):
        emulator.create("chaosexperiments", experiment("sighted", NS, prometheus=prom, phases=phases), NS)
        status = wait_phase(emulator, "sighted")
    assert status["reason"] != "Halted", status.get("message")
    assert not any(c["name"] == "no-series" for c in status["checks"])
    assert status["phases"]["chaos"]["requests"] >= 100 * 4  # the whole 5 s window ran
