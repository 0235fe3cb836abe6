"""/metrics, /healthz and /readyz of the real operator over HTTP, after a real experiment; and the Grafana dashboard
the chart ships asks only for metrics the operator exports."""

from __future__ import annotations

import json
import re

from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.operator_thread import OperatorThread
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import ROOT, experiment, make_pod
from tests.support.harness import OPERATOR_TOKEN, StaticResolver
from tests.support.net import free_port, get
from tests.support.waits import wait_for, wait_phase

NS = "shop"
DASHBOARD = ROOT / "helm" / "chaos-operator" / "dashboards" / "chaos-operator.json"
# PromQL words that look like metric names but are not.
PROMQL = {"sum", "max", "min", "avg", "count", "rate", "increase", "irate", "by", "without", "on", "ignoring",
          "histogram_quantile", "le", "pod", "phase", "verdict", "kind", "outcome", "operation", "code", "job", "h",
          "m", "s", "d", "failed", "offset", "bool", "and", "or", "unless", "topk", "bottomk", "abs", "clamp_min"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def exported_names(text: str) -> set[str]:
    """Every series name a query may use: samples, and the families declared without samples yet."""
    names = {s.name for family in text_string_to_metric_families(text) for s in family.samples}
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in {"counter": ("_total",), "gauge": ("",),
                                                      "histogram": ("_bucket", "_sum", "_count")}.get(family.type, ())}
    return names


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    no_strings = re.sub(r'"[^"]*"', "", expr)
    no_labels = re.sub(r"\{[^}]*\}", "", no_strings)
    no_ranges = re.sub(r"\[[^]]*\]", "", no_labels)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", no_ranges))
    return {w for w in words if w not in PROMQL}


def test_metrics_health_and_the_dashboard(emulator: EmulatorThread, resolver: StaticResolver) -> None:
    make_pod(emulator, NS, "checkout-0", {"app": "checkout"})
    op = OperatorThread(emulator.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess")
    op.config.metrics_port, op.config.metrics_host = free_port(), "127.0.0.1"
    base = f"http://127.0.0.1:{op.config.metrics_port}"
    with op:
        assert get(f"{base}/healthz") == (200, "ok\n")
        assert get(f"{base}/readyz") == (200, "running\n")
        assert get(f"{base}/metrics", "POST")[0] == 405  # read-only
        assert get(f"{base}/anything")[0] == 404
        # Counters are per process and other tests may have run operators in this one: compare differences.
        before = samples(get(f"{base}/metrics")[1])
        emulator.create("chaosexperiments", experiment("measured", NS, phases={"baseline": "2s", "chaos": "2s",
                                                                              "recovery": "1s"}), NS)
        status = wait_phase(emulator, "measured", ("Completed", "Failed", "Aborted"))
        # The operator counts a status change once its write has landed, so the terminal status can be read a
        # moment before the counter moves: wait for the scrape that shows it.
        def counted() -> str | None:
            text = get(f"{base}/metrics")[1]
            return text if any(key[0] == "chaos_operator_experiments_finished_total" and value > before.get(key, 0)
                               for key, value in samples(text).items()) else None
        text = wait_for("the finished counter", counted, 15)
    assert status["phase"] == "Completed", status
    after = samples(text)
    got = {key: value - before.get(key, 0.0) if "_total" in key[0] else value for key, value in after.items()}
    assert got[("chaos_operator_injections_total", (("kind", "PodKill"), ("outcome", "succeeded")))] == 1
    assert got[("chaos_operator_recoveries_total", (("kind", "PodKill"), ("outcome", "succeeded")))] == 1
    finished = [(dict(labels), v) for (name, labels), v in got.items()
                if name == "chaos_operator_experiments_finished_total" and v]
    assert finished == [({"phase": "Completed", "verdict": status["verdict"], "reason": status["reason"]}, 1.0)]
    baseline = status["phases"]["baseline"]
    assert got[("chaos_operator_load_requests_total", (("phase", "baseline"),))] == baseline["requests"]
    assert got[("chaos_operator_load_errors_total", (("phase", "baseline"),))] == baseline["errors"]
    assert got[("chaos_operator_leader", ())] == 1 and got[("chaos_operator_paused", ())] == 0
    assert got[("chaos_operator_event_loop_lag_seconds_count", ())] > before.get(
        ("chaos_operator_event_loop_lag_seconds_count", ()), 0)
    assert got[("process_resident_memory_bytes", ())] > 0
    exported = exported_names(text)
    families = {f.name for f in text_string_to_metric_families(text) if f.name.startswith("chaos_operator_")}
    print("families:", sorted(families))
    for expr in dashboard_queries():
        missing = metric_names(expr) - exported
        assert not missing, f"dashboard query {expr!r} names metrics the operator does not export: {missing}"


def test_the_dashboard_query_check_catches_an_unknown_metric() -> None:
    exported = {"chaos_operator_injections_total"}
    assert metric_names('sum by (kind) (rate(chaos_operator_injections_total{outcome="failed"}[5m]))') <= exported
    assert metric_names("rate(chaos_operator_injection_total[5m])") - exported == {"chaos_operator_injection_total"}
    assert len(dashboard_queries()) >= 10


