"""Malformed manifests, each a small mutation of examples/pod-kill.yaml: the CRD (strict schema + CEL) and the
models must both refuse every one, and both must name the offending field."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from chaos_operator.validation import crd_problems, model_problems, validate_manifest
from tests.contract.manifests import Mutation, both, drop, mutated, names_field, set_

EXPR = "spec.target.selector.matchExpressions"
LABELS = "spec.target.selector.matchLabels"
QUERY = "spec.prometheus.queries.0"


def expressions(*items: dict[str, Any]) -> Mutation:
    return set_(EXPR, list(items))


class Case(NamedTuple):
    id: str
    mutation: Mutation
    path: str  # the field both sides must name (or a part of it)


CASES = [
    # wrong types
    Case("rate-string", set_("spec.load.rate", "50"), "spec.load.rate"),
    Case("port-string", set_("spec.load.service.port", "8080"), "spec.load.service.port"),
    Case("service-name-number", set_("spec.load.service.name", 123), "spec.load.service.name"),
    Case("path-number", set_("spec.load.path", 42), "spec.load.path"),
    Case("dry-run-string", set_("spec.dryRun", "true"), "spec.dryRun"),
    Case("abort-number", set_("spec.abort", 0), "spec.abort"),
    Case("concurrency-float", set_("spec.load.concurrency", 1.5), "spec.load.concurrency"),
    Case("grace-float", set_("spec.fault.gracePeriodSeconds", 2.5), "spec.fault.gracePeriodSeconds"),
    Case("error-rate-string", set_("spec.slos.maxErrorRate", "0.01"), "spec.slos.maxErrorRate"),
    Case("error-rate-bool", set_("spec.slos.maxErrorRate", True), "spec.slos.maxErrorRate"),
    Case("value-bool", both(set_("spec.target.mode", "fixed"), set_("spec.target.value", True)), "spec.target.value"),
    Case("phases-string", set_("spec.phases", "60s"), "spec.phases"),
    Case("queries-object", set_("spec.prometheus.queries", {"name": "x"}), "spec.prometheus.queries"),
    Case("matchlabels-list", set_(LABELS, ["app=checkout"]), LABELS),
    # unknown fields at several depths
    Case("unknown-in-spec", set_("spec.replicas", 3), "spec.replicas"),
    Case("unknown-in-service", set_("spec.load.service.namespace", "kube-system"), "spec.load.service.namespace"),
    Case("unknown-in-selector", set_("spec.target.selector.matchFields", {"a": "b"}),
         "spec.target.selector.matchFields"),
    Case("unknown-in-query", set_(QUERY + ".step", "15s"), "spec.prometheus.queries[0].step"),
    Case("unknown-in-slos", set_("spec.slos.maxLatencyP50", "100ms"), "spec.slos.maxLatencyP50"),
    Case("unknown-in-expression", expressions({"key": "app", "operator": "Exists", "value": "x"}), EXPR + "[0].value"),
    # selectors
    Case("empty-selector", set_("spec.target.selector", {}), "spec.target.selector"),
    Case("empty-matchlabels", set_(LABELS, {}), LABELS),
    Case("empty-matchexpressions", both(drop(LABELS), expressions()), EXPR),
    Case("in-without-values", expressions({"key": "app", "operator": "In"}), EXPR + "[0].values"),
    Case("notin-empty-values", expressions({"key": "app", "operator": "NotIn", "values": []}), EXPR + "[0].values"),
    Case("exists-with-values", expressions({"key": "app", "operator": "Exists", "values": ["a"]}), EXPR + "[0].values"),
    Case("operator-unknown", expressions({"key": "app", "operator": "Matches", "values": ["a"]}),
         EXPR + "[0].operator"),
    Case("label-key-space", set_(LABELS, {"bad key": "x"}), LABELS),
    Case("label-key-leading-dash", set_(LABELS, {"-app": "x"}), LABELS),
    Case("label-key-double-slash", set_(LABELS, {"a/b/c": "x"}), LABELS),
    Case("label-value-semicolon", set_(LABELS, {"app": "a;b"}), LABELS),
    Case("label-value-and", set_(LABELS, {"app": "a&&b"}), LABELS),
    Case("label-value-too-long", set_(LABELS, {"app": "a" * 64}), LABELS),
    Case("expression-key-subshell", expressions({"key": "$(reboot)", "operator": "Exists"}), EXPR + "[0].key"),
    Case("expression-value-backtick", expressions({"key": "app", "operator": "In", "values": ["`id`"]}),
         EXPR + "[0].values"),
    Case("too-many-labels", set_(LABELS, {f"k{i}": "v" for i in range(33)}), LABELS),
    # out-of-range numbers
    Case("rate-zero", set_("spec.load.rate", 0), "spec.load.rate"),
    Case("rate-5001", set_("spec.load.rate", 5001), "spec.load.rate"),
    Case("concurrency-zero", set_("spec.load.concurrency", 0), "spec.load.concurrency"),
    Case("concurrency-1001", set_("spec.load.concurrency", 1001), "spec.load.concurrency"),
    Case("port-70000", set_("spec.load.service.port", 70000), "spec.load.service.port"),
    Case("port-zero", set_("spec.load.service.port", 0), "spec.load.service.port"),
    Case("grace-301", set_("spec.fault.gracePeriodSeconds", 301), "spec.fault.gracePeriodSeconds"),
    Case("grace-negative", set_("spec.fault.gracePeriodSeconds", -1), "spec.fault.gracePeriodSeconds"),
    Case("error-rate-1.5", set_("spec.slos.maxErrorRate", 1.5), "spec.slos.maxErrorRate"),
    Case("error-rate-negative", set_("spec.slos.maxErrorRate", -0.1), "spec.slos.maxErrorRate"),
    Case("value-zero", both(set_("spec.target.mode", "fixed"), set_("spec.target.value", 0)), "spec.target.value"),
    Case("value-1001", both(set_("spec.target.mode", "fixed"), set_("spec.target.value", 1001)), "spec.target.value"),
    Case("percent-101", both(set_("spec.target.mode", "fixedPercent"), set_("spec.target.value", 101)),
         "spec.target.value"),
    Case("random-percent-101", both(set_("spec.target.mode", "randomMaxPercent"), set_("spec.target.value", 101)),
         "spec.target.value"),
    Case("value-with-mode-one", set_("spec.target.value", 1), "spec.target.value"),
    Case("value-with-mode-all", both(set_("spec.target.mode", "all"), set_("spec.target.value", 2)),
         "spec.target.value"),
    Case("fixed-without-value", set_("spec.target.mode", "fixed"), "spec.target.value"),
    Case("seed-negative", set_("spec.target.seed", -1), "spec.target.seed"),
    Case("seed-above-2-53", set_("spec.target.seed", 2**53), "spec.target.seed"),
    Case("query-max-huge", set_(QUERY + ".max", 1e19), "spec.prometheus.queries[0].max"),
    Case("query-max-infinite", set_(QUERY + ".max", float("inf")), "spec.prometheus.queries[0].max"),
    Case("halt-max-nan", set_("spec.prometheus.haltWhen.0.max", float("nan")), "spec.prometheus.haltWhen[0].max"),
    Case("too-many-queries", set_("spec.prometheus.queries", [{"name": f"q{i}", "query": "up", "max": 1}
                                                             for i in range(17)]), "spec.prometheus.queries"),
    # missing required fields
    Case("no-fault", drop("spec.fault"), "spec.fault"),
    Case("no-fault-kind", drop("spec.fault.kind"), "spec.fault.kind"),
    Case("no-load-service", drop("spec.load.service"), "spec.load.service"),
    Case("no-service-port", drop("spec.load.service.port"), "spec.load.service.port"),
    Case("no-target-selector", drop("spec.target.selector"), "spec.target.selector"),
    Case("no-prometheus-url", drop("spec.prometheus.url"), "spec.prometheus.url"),
    Case("halt-without-max", drop("spec.prometheus.haltWhen.0.max"), "spec.prometheus.haltWhen[0].max"),
    Case("query-without-bounds", drop(QUERY + ".max"), "spec.prometheus.queries[0]"),
    Case("query-empty", set_(QUERY + ".query", ""), "spec.prometheus.queries[0].query"),
    Case("no-spec", drop("spec"), "spec"),
    # durations
    Case("duration-bare-number", set_("spec.load.timeout", "5"), "spec.load.timeout"),
    Case("duration-space", set_("spec.load.timeout", "5 s"), "spec.load.timeout"),
    Case("duration-negative", set_("spec.phases.baseline", "-1s"), "spec.phases.baseline"),
    Case("duration-days", set_("spec.phases.chaos", "1d"), "spec.phases.chaos"),
    Case("duration-bad-unit", set_("spec.phases.recovery", "10x"), "spec.phases.recovery"),
    Case("duration-five-parts", set_("spec.phases.chaos", "2h1h30m5s0ms"), "spec.phases.chaos"),
    Case("duration-microseconds", set_("spec.slos.maxLatencyP95", "500us"), "spec.slos.maxLatencyP95"),
    Case("duration-number", set_("spec.load.timeout", 2), "spec.load.timeout"),
    Case("phase-2h", set_("spec.phases.chaos", "2h"), "spec.phases.chaos"),
    Case("phase-500ms", set_("spec.phases.baseline", "500ms"), "spec.phases.baseline"),
    Case("phase-sum-above-1h", set_("spec.phases.recovery", "59m61s"), "spec.phases.recovery"),
    Case("timeout-61s", set_("spec.load.timeout", "61s"), "spec.load.timeout"),
    Case("timeout-zero", set_("spec.load.timeout", "0ms"), "spec.load.timeout"),
    Case("interval-zero", set_("spec.fault.interval", "0s"), "spec.fault.interval"),
    Case("interval-2h", set_("spec.fault.interval", "2h"), "spec.fault.interval"),
    Case("p95-zero", set_("spec.slos.maxLatencyP95", "0ms"), "spec.slos.maxLatencyP95"),
    Case("recovery-within-subshell", set_("spec.slos.recoveryWithin", "$(reboot)"), "spec.slos.recoveryWithin"),
    Case("duration-newline", set_("spec.load.timeout", "2s\n"), "spec.load.timeout"),
    # percents
    Case("percent-without-sign", set_("spec.slos.maxLatencyDegradation", "50"), "spec.slos.maxLatencyDegradation"),
    Case("percent-words", set_("spec.slos.maxLatencyDegradation", "fifty%"), "spec.slos.maxLatencyDegradation"),
    Case("percent-number", set_("spec.slos.maxLatencyDegradation", 50), "spec.slos.maxLatencyDegradation"),
    Case("percent-10000", set_("spec.slos.maxLatencyDegradation", "10000%"), "spec.slos.maxLatencyDegradation"),
    Case("percent-negative", set_("spec.slos.maxLatencyDegradation", "-5%"), "spec.slos.maxLatencyDegradation"),
    # shell metacharacters
    Case("service-subshell", set_("spec.load.service.name", "$(reboot)"), "spec.load.service.name"),
    Case("service-backtick", set_("spec.load.service.name", "`id`"), "spec.load.service.name"),
    Case("service-semicolon", set_("spec.load.service.name", "a;b"), "spec.load.service.name"),
    Case("service-pipe", set_("spec.load.service.name", "a|b"), "spec.load.service.name"),
    Case("service-and", set_("spec.load.service.name", "a&&b"), "spec.load.service.name"),
    Case("service-newline", set_("spec.load.service.name", "checkout\nrm"), "spec.load.service.name"),
    Case("service-trailing-newline", set_("spec.load.service.name", "checkout\n"), "spec.load.service.name"),
    Case("path-subshell", set_("spec.load.path", "/$(reboot)"), "spec.load.path"),
    Case("path-backtick", set_("spec.load.path", "/`id`"), "spec.load.path"),
    Case("path-semicolon", set_("spec.load.path", "/health;reboot"), "spec.load.path"),
    Case("path-pipe", set_("spec.load.path", "/a|b"), "spec.load.path"),
    Case("path-newline", set_("spec.load.path", "/health\n"), "spec.load.path"),
    Case("path-relative", set_("spec.load.path", "health"), "spec.load.path"),
    Case("query-name-pipe", set_(QUERY + ".name", "a|b"), "spec.prometheus.queries[0].name"),
    Case("halt-name-subshell", set_("spec.prometheus.haltWhen.0.name", "$(id)"), "spec.prometheus.haltWhen[0].name"),
    Case("url-subshell", set_("spec.prometheus.url", "http://prom:9090/$(reboot)"), "spec.prometheus.url"),
    Case("url-semicolon", set_("spec.prometheus.url", "http://prom:9090;id"), "spec.prometheus.url"),
    Case("url-credentials", set_("spec.prometheus.url", "http://admin:secret@prom:9090"), "spec.prometheus.url"),
    Case("url-file-scheme", set_("spec.prometheus.url", "file:///etc/passwd"), "spec.prometheus.url"),
    Case("url-newline", set_("spec.prometheus.url", "http://prom:9090\n"), "spec.prometheus.url"),
    # fault kinds, enums
    Case("podkill-with-latency", set_("spec.fault.latency", "100ms"), "spec.fault.latency"),
    Case("podkill-with-cpu-workers", set_("spec.fault.workers", 2), "spec.fault.workers"),
    Case("kind-network-latency", set_("spec.fault", {"kind": "NetworkLatency"}), "spec.fault.kind"),
    Case("kind-lowercase", set_("spec.fault.kind", "podkill"), "spec.fault.kind"),
    Case("method-post", set_("spec.load.method", "POST"), "spec.load.method"),
    Case("method-lowercase", set_("spec.load.method", "get"), "spec.load.method"),
    Case("mode-unknown", set_("spec.target.mode", "some"), "spec.target.mode"),
    Case("query-phase-unknown", set_(QUERY + ".phases", ["during"]), "spec.prometheus.queries[0].phases"),
    Case("query-phases-empty", set_(QUERY + ".phases", []), "spec.prometheus.queries[0].phases"),
    Case("query-phases-four", set_(QUERY + ".phases", ["baseline", "chaos", "recovery", "chaos"]),
         "spec.prometheus.queries[0].phases"),
]


def test_enough_distinct_cases() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_crd_refuses_and_names_the_field(case: Case) -> None:
    problems = crd_problems(mutated(case.mutation))
    assert problems, "the CRD accepted it"
    assert names_field(problems, case.path), [str(p) for p in problems]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_models_refuse_and_name_the_field(case: Case) -> None:
    problems = model_problems(mutated(case.mutation))
    assert problems, "the models accepted it"
    assert names_field(problems, case.path), [str(p) for p in problems]


@pytest.mark.parametrize("case", CASES[::7], ids=[case.id for case in CASES[::7]])
def test_validate_manifest_reports_it(case: Case) -> None:
    assert names_field(validate_manifest(mutated(case.mutation)), case.path)
