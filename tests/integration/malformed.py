"""Malformed ChaosExperiments as the operator may meet them when the API server did not validate them (stored
under an older CRD, or written with validation off): what each is, and what the operator must make of it.

Spec cases: every mutation of tests/support/malformed_cases.py (wrong types, missing fields, out-of-range values,
unknown fields, shell metacharacters, option injection) plus shapes no schema-valid object can have (a spec that is
not an object, huge strings). Each must end `Failed`/`InvalidSpec` with the field named in the message.
Status cases: a valid spec whose status cannot be read. Each must fail closed: never run again, touch nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tests.integration.conftest import BASE_SPEC
from tests.support.malformed_cases import CASES
from tests.support.manifests import base_manifest, mutated, set_

HUGE = 64 * 1024  # characters: far beyond any field's limit (1024 at most), well within an object's 1.5 MB


@dataclass(frozen=True)
class Malformed:
    id: str
    body: dict[str, Any]  # the whole object but its metadata's name and namespace
    field: str  # spec cases: the field the message must name; status cases: ""
    status: Any = None  # status cases: the unreadable status written through the status subresource

    @property
    def bad_status(self) -> bool:
        return not self.field


def _doc(spec: Any) -> dict[str, Any]:
    return {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment", "spec": spec}


def _spec_shapes() -> list[Malformed]:
    """What a schema-valid object can never hold: a spec that is not an object, huge strings everywhere."""
    huge = "a" * HUGE
    out = [
        Malformed("spec-string", _doc("kill everything"), "spec"),
        Malformed("spec-list", _doc([{"target": {}}]), "spec"),
        Malformed("spec-pairs", _doc(["ab", "cd"]), "spec"),  # dict(["ab"]) would make {"a": "b"} of it
        Malformed("spec-number", _doc(42), "spec"),
        Malformed("spec-bool", _doc(True), "spec"),
        Malformed("spec-empty", _doc({}), "spec.target"),
    ]
    for case_id, path, value, field in (
        ("fault-list", "spec.fault", [{"kind": "PodKill"}], "spec.fault"),
        ("target-string", "spec.target", "app=checkout", "spec.target"),
        ("service-string", "spec.load.service", "checkout:8080", "spec.load.service"),
        ("huge-service-name", "spec.load.service.name", huge, "spec.load.service.name"),
        ("huge-path", "spec.load.path", "/" + huge, "spec.load.path"),
        ("huge-label-value", "spec.target.selector.matchLabels", {"app": huge}, "spec.target.selector.matchLabels"),
        ("huge-label-key", "spec.target.selector.matchLabels", {huge: "x"}, "spec.target.selector.matchLabels"),
        ("huge-unknown-field", "spec.notes", huge, "spec.notes"),
        ("huge-query", "spec.prometheus.queries.0.query", huge, "spec.prometheus.queries[0].query"),
        ("huge-duration", "spec.phases.chaos", "1" * HUGE + "s", "spec.phases.chaos"),
        ("huge-number", "spec.load.rate", 10**400, "spec.load.rate"),
        ("deep-unknown-field", "spec.extra", _nested(60), "spec.extra"),
        ("huge-fault-kind", "spec.fault.kind", huge, "spec.fault.kind"),
    ):
        out.append(Malformed(case_id, mutated(set_(path, value)), field))
    return out


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"leaf": "$(reboot)"}
    for _ in range(depth):
        node = {"x": node}
    return node


def _injection(**fields: Any) -> dict[str, Any]:
    return {"target": "checkout-0", "uid": "0000-aaaa", "state": "Injected", **fields}


# Statuses that fail the status model; `phase` is what a reader that guessed would take them for.
BAD_STATUSES: dict[str, Any] = {
    "status-string": "Completed",
    "status-list": [{"phase": "Completed"}],
    "status-number": 3,
    "phase-unknown": {"phase": "Exploding"},
    "phase-number": {"phase": 2},
    "phase-lowercase": {"phase": "chaos"},
    "unknown-status-field": {"phase": "Chaos", "leaderLease": "x"},
    "injections-string": {"phase": "Chaos", "injections": "checkout-0"},
    "injection-state-unknown": {"phase": "Chaos", "injections": [_injection(state="Half")]},
    "injection-without-uid": {"phase": "Chaos", "injections": [{"target": "checkout-0", "state": "Injected"}]},
    "injection-huge-uid": {"phase": "Chaos", "injections": [_injection(uid="u" * 65)]},
    "injection-unknown-field": {"phase": "Recovery", "injections": [_injection(command="tc qdisc del")]},
    "targets-object": {"phase": "Baseline", "targets": {"name": "checkout-0"}},
    "started-at-huge": {"phase": "Baseline", "startedAt": "9" * 100},
    "message-huge": {"phase": "Completed", "message": "m" * HUGE},
    "reason-shell": {"phase": "Failed", "reason": "$(reboot)"},
    "verdict-unknown": {"phase": "Completed", "verdict": "Great"},
    "score-negative": {"phase": "Completed", "verdict": "Passed", "score": -1},
    "requests-negative": {"phase": "Recovery", "phases": {"baseline": {
        "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:01:00Z", "requests": -5, "errors": 0,
        "errorRate": 0, "throughput": 1}}},
    "error-rate-above-1": {"phase": "Analyzing", "phases": {"chaos": {
        "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:01:00Z", "requests": 5, "errors": 5,
        "errorRate": 2.5, "throughput": 1}}},
    "check-phase-unknown": {"phase": "Analyzing", "checks": [
        {"name": "x", "phase": "during", "observed": "1", "limit": "2", "passed": True}]},
    "condition-status-bool": {"phase": "Chaos", "conditions": [
        {"type": "Ready", "status": True, "reason": "Running", "message": "", "lastTransitionTime": "t"}]},
    "too-many-checks": {"phase": "Completed", "checks": [
        {"name": f"c{i}", "phase": "chaos", "observed": "1", "limit": "2", "passed": True} for i in range(65)]},
}


def _valid_spec_doc() -> dict[str, Any]:
    return _doc(copy.deepcopy(BASE_SPEC))


def cases() -> list[Malformed]:
    # Every third contract case (each sort of mutation stays): the emulator's cost per request still grows with its
    # history, and the models themselves meet every case in tests/contract.
    spec_cases = [Malformed(case.id, mutated(case.mutation), case.path) for case in CASES[::3]]
    status_cases = [Malformed(case_id, _valid_spec_doc(), "", status) for case_id, status in BAD_STATUSES.items()]
    assert base_manifest()["spec"]["target"]["selector"] == BASE_SPEC["target"]["selector"]  # same targets
    out = spec_cases + _spec_shapes() + status_cases
    for case in out:
        case.body.pop("metadata", None)
    return out
