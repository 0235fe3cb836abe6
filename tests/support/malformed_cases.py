"""Malformed ChaosExperiments, one per rule: the mutation, and the field the CRD and the models must name.

Shared data: the contract tier checks the CRD and the models refuse each case (tests/contract/test_malformed.py),
the integration tier that the operator refuses each stored one (tests/integration/malformed.py), and
tests/contract/test_fault_kinds.py that every fault kind has its cases (FAULTS)."""

from __future__ import annotations

from typing import Any, NamedTuple

from tests.support.manifests import Mutation, both, drop, set_

EXPR = "spec.target.selector.matchExpressions"
LABELS = "spec.target.selector.matchLabels"
QUERY = "spec.prometheus.queries.0"


def expressions(*items: dict[str, Any]) -> Mutation:
    return set_(EXPR, list(items))


# A valid fault of each kind, with its required fields; the cases below change one thing in it.
FAULTS: dict[str, dict[str, Any]] = {
    "PodKill": {"kind": "PodKill"},
    "NetworkLatency": {"kind": "NetworkLatency", "latency": "100ms"},
    "NetworkBandwidth": {"kind": "NetworkBandwidth", "rate": "1mbit"},
    "CPUStress": {"kind": "CPUStress"},
    "MemoryStress": {"kind": "MemoryStress", "size": "256Mi"},
    "NetworkLoss": {"kind": "NetworkLoss", "percent": 5},
    "NetworkCorruption": {"kind": "NetworkCorruption", "percent": 1},
    "NetworkDuplication": {"kind": "NetworkDuplication", "percent": 2.5},
    "NetworkPartition": {"kind": "NetworkPartition", "destinations": [{"cidr": "10.0.0.0/8"}]},
}


def fault(kind: str, **fields: Any) -> Mutation:
    """spec.fault becomes a valid fault of ``kind`` with ``fields`` set on it (None drops a field)."""
    body = {**FAULTS[kind], **fields}
    return set_("spec.fault", {k: v for k, v in body.items() if v is not None})


F = "spec.fault"


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
    Case("kind-unknown", set_("spec.fault", {"kind": "NetworkChaos"}), "spec.fault.kind"),
    Case("kind-empty", set_("spec.fault", {"kind": ""}), "spec.fault.kind"),
    # each kind's required fields
    Case("latency-without-latency", fault("NetworkLatency", latency=None), F + ".latency"),
    Case("latency-only-jitter", fault("NetworkLatency", latency=None, jitter="5ms"), F + ".latency"),
    Case("bandwidth-without-rate", fault("NetworkBandwidth", rate=None), F + ".rate"),
    Case("bandwidth-only-burst", fault("NetworkBandwidth", rate=None, burst="64Ki"), F + ".rate"),
    Case("memory-without-size", fault("MemoryStress", size=None), F + ".size"),
    # each kind's fields on the wrong kind
    Case("podkill-with-rate", fault("PodKill", rate="1mbit"), F + ".rate"),
    Case("podkill-with-size", fault("PodKill", size="256Mi"), F + ".size"),
    Case("podkill-with-interface", fault("PodKill", interface="eth0"), F + ".interface"),
    Case("latency-with-grace", fault("NetworkLatency", gracePeriodSeconds=0), F + ".gracePeriodSeconds"),
    Case("latency-with-interval", fault("NetworkLatency", interval="30s"), F + ".interval"),
    Case("latency-with-burst", fault("NetworkLatency", burst="64Ki"), F + ".burst"),
    Case("latency-with-workers", fault("NetworkLatency", workers=2), F + ".workers"),
    Case("bandwidth-with-latency", fault("NetworkBandwidth", latency="10ms"), F + ".latency"),
    Case("bandwidth-with-correlation", fault("NetworkBandwidth", correlation=10), F + ".correlation"),
    Case("bandwidth-with-load", fault("NetworkBandwidth", load=50), F + ".load"),
    Case("cpu-with-size", fault("CPUStress", size="1Gi"), F + ".size"),
    Case("cpu-with-jitter", fault("CPUStress", jitter="1ms"), F + ".jitter"),
    Case("cpu-with-interface", fault("CPUStress", interface="eth0"), F + ".interface"),
    Case("memory-with-load", fault("MemoryStress", load=50), F + ".load"),
    Case("memory-with-limit", fault("MemoryStress", limit="128Ki"), F + ".limit"),
    Case("memory-with-grace", fault("MemoryStress", gracePeriodSeconds=5), F + ".gracePeriodSeconds"),
    # two kinds' fields at once
    Case("latency-and-bandwidth", fault("NetworkLatency", rate="1mbit", burst="64Ki"), F + ".rate"),
    Case("cpu-and-memory", fault("CPUStress", workers=2, load=50, size="1Gi"), F + ".size"),
    Case("bandwidth-and-cpu", fault("NetworkBandwidth", workers=4), F + ".workers"),
    # out-of-range and malformed fault fields
    Case("latency-0ms", fault("NetworkLatency", latency="0ms"), F + ".latency"),
    Case("latency-11s", fault("NetworkLatency", latency="11s"), F + ".latency"),
    Case("latency-number", fault("NetworkLatency", latency=100), F + ".latency"),
    Case("jitter-above-latency", fault("NetworkLatency", latency="10ms", jitter="20ms"), F + ".jitter"),
    Case("jitter-11s", fault("NetworkLatency", latency="10s", jitter="11s"), F + ".jitter"),
    Case("correlation-101", fault("NetworkLatency", correlation=101), F + ".correlation"),
    Case("correlation-negative", fault("NetworkLatency", correlation=-1), F + ".correlation"),
    Case("correlation-string", fault("NetworkLatency", correlation="25%"), F + ".correlation"),
    Case("rate-0kbit", fault("NetworkBandwidth", rate="0kbit"), F + ".rate"),
    Case("rate-100gbit", fault("NetworkBandwidth", rate="100gbit"), F + ".rate"),
    Case("rate-seven-digits", fault("NetworkBandwidth", rate="1000000kbit"), F + ".rate"),
    Case("rate-mbps", fault("NetworkBandwidth", rate="1mbps"), F + ".rate"),
    Case("rate-uppercase", fault("NetworkBandwidth", rate="1Mbit"), F + ".rate"),
    Case("rate-bare-number", fault("NetworkBandwidth", rate="1000000"), F + ".rate"),
    Case("rate-number", fault("NetworkBandwidth", rate=1000), F + ".rate"),
    Case("rate-7kbit", fault("NetworkBandwidth", rate="7kbit"), F + ".rate"),
    Case("burst-15Ki", fault("NetworkBandwidth", burst="15Ki"), F + ".burst"),
    Case("burst-100Mi", fault("NetworkBandwidth", burst="100Mi"), F + ".burst"),
    Case("burst-tc-bytes", fault("NetworkBandwidth", burst="32kb"), F + ".burst"),
    Case("limit-0Ki", fault("NetworkBandwidth", limit="0Ki"), F + ".limit"),
    Case("limit-decimal", fault("NetworkBandwidth", limit="1.5Mi"), F + ".limit"),
    Case("workers-0", fault("CPUStress", workers=0), F + ".workers"),
    Case("workers-33", fault("MemoryStress", workers=33), F + ".workers"),
    Case("workers-string", fault("CPUStress", workers="2"), F + ".workers"),
    Case("load-0", fault("CPUStress", load=0), F + ".load"),
    Case("load-101", fault("CPUStress", load=101), F + ".load"),
    Case("size-0Mi", fault("MemoryStress", size="0Mi"), F + ".size"),
    Case("size-65Gi", fault("MemoryStress", size="65Gi"), F + ".size"),
    Case("size-10000Mi", fault("MemoryStress", size="10000Mi"), F + ".size"),
    Case("size-1Ti", fault("MemoryStress", size="1Ti"), F + ".size"),
    Case("size-lowercase", fault("MemoryStress", size="256mi"), F + ".size"),
    Case("size-number", fault("MemoryStress", size=256), F + ".size"),
    Case("interface-too-long", fault("NetworkLatency", interface="a" * 16), F + ".interface"),
    Case("interface-empty", fault("NetworkBandwidth", interface=""), F + ".interface"),
    # shell metacharacters and option injection in the fields that reach the agent's argv
    Case("interface-subshell", fault("NetworkLatency", interface="$(reboot)"), F + ".interface"),
    Case("interface-semicolon", fault("NetworkLatency", interface="eth0;reboot"), F + ".interface"),
    Case("interface-backtick", fault("NetworkBandwidth", interface="`id`"), F + ".interface"),
    Case("interface-space", fault("NetworkLatency", interface="eth0 root"), F + ".interface"),
    Case("interface-newline", fault("NetworkLatency", interface="eth0\n"), F + ".interface"),
    Case("interface-option", fault("NetworkBandwidth", interface="--help"), F + ".interface"),
    Case("interface-slash", fault("NetworkLatency", interface="../eth0"), F + ".interface"),
    Case("rate-subshell", fault("NetworkBandwidth", rate="$(id)mbit"), F + ".rate"),
    Case("rate-semicolon", fault("NetworkBandwidth", rate="1mbit;reboot"), F + ".rate"),
    Case("rate-pipe", fault("NetworkBandwidth", rate="1mbit|sh"), F + ".rate"),
    Case("rate-newline", fault("NetworkBandwidth", rate="1mbit\n"), F + ".rate"),
    Case("rate-and", fault("NetworkBandwidth", rate="1mbit&&id"), F + ".rate"),
    Case("burst-dollar", fault("NetworkBandwidth", burst="$HOME"), F + ".burst"),
    Case("limit-backtick", fault("NetworkBandwidth", limit="`id`Ki"), F + ".limit"),
    Case("size-backtick", fault("MemoryStress", size="`id`Mi"), F + ".size"),
    Case("size-and", fault("MemoryStress", size="256Mi&&id"), F + ".size"),
    Case("size-newline", fault("MemoryStress", size="256Mi\n"), F + ".size"),
    Case("size-option", fault("MemoryStress", size="--vm 999"), F + ".size"),
    Case("kind-lowercase", set_("spec.fault.kind", "podkill"), "spec.fault.kind"),
    Case("method-connect", set_("spec.load.method", "CONNECT"), "spec.load.method"),
    Case("load-body-on-get", set_("spec.load.body", "{}"), "spec.load"),
    Case("load-body-twice", set_("spec.load", {"service": {"name": "checkout", "port": 8080}, "method": "POST",
                                               "body": "{}", "bodyFrom": {"name": "b", "key": "k"}}), "spec.load"),
    Case("load-auth-both", set_("spec.load.auth", {"bearerToken": {"name": "t", "key": "token"},
                                                   "basic": {"secretName": "b"}}), "spec.load.auth"),
    Case("load-auth-none", set_("spec.load.auth", {}), "spec.load.auth"),
    Case("load-header-authorization", set_("spec.load.headers", {"authorization": "Bearer x"}), "spec.load.headers"),
    Case("load-header-name", set_("spec.load.headers", {"X Bad": "1"}), "spec.load.headers"),
    Case("load-success-code", set_("spec.load.successCodes", [200, 600]), "spec.load.successCodes[1]"),
    Case("load-workers-zero", set_("spec.load.workers", 0), "spec.load.workers"),
    Case("load-ca-key", set_("spec.load.tls", {"caBundle": {"name": "ca", "key": "ca/crt"}}),
         "spec.load.tls.caBundle.key"),
    Case("method-lowercase", set_("spec.load.method", "get"), "spec.load.method"),
    Case("mode-unknown", set_("spec.target.mode", "some"), "spec.target.mode"),
    Case("query-phase-unknown", set_(QUERY + ".phases", ["during"]), "spec.prometheus.queries[0].phases"),
    Case("query-phases-empty", set_(QUERY + ".phases", []), "spec.prometheus.queries[0].phases"),
    Case("query-phases-four", set_(QUERY + ".phases", ["baseline", "chaos", "recovery", "chaos"]),
         "spec.prometheus.queries[0].phases"),
]
