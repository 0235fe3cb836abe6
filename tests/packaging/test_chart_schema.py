"""values.schema.json, applied by the real Helm engine: bad values are refused before anything renders,
with a message that names the key and what is wrong."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.support.chart import CHART, render

SPEC: dict[str, Any] = {"target": {}, "fault": {}, "load": {}, "phases": {}}
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("two replicas without leader election",
     {"replicaCount": 2, "leaderElection": {"enabled": False}}, "at '/leaderElection/enabled': value must be true"),
    ("a digest that is not sha256", {"image": {"digest": "md5:abc"}}, "at '/image/digest': 'md5:abc' does not match"),
    ("an unknown pull policy", {"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy': value must be one of"),
    ("a log format nobody parses", {"logFormat": "xml"}, "at '/logFormat': value must be one of 'text', 'json'"),
    ("a log level", {"logLevel": "verbose"}, "at '/logLevel': value must be one of"),
    ("a namespace that is not a DNS label", {"watchNamespaces": ["Bad_NS"]},
     "at '/watchNamespaces/0': 'Bad_NS' does not match pattern"),
    ("a duplicated namespace", {"allowedNamespaces": ["shop", "shop"]}, "at '/allowedNamespaces'"),
    ("a port out of range", {"metrics": {"port": 70000}}, "at '/metrics/port': maximum"),
    ("a privileged operator", {"securityContext": {"privileged": True}},
     "at '/securityContext/privileged': value must be false"),
    ("privilege escalation", {"securityContext": {"allowPrivilegeEscalation": True}},
     "at '/securityContext/allowPrivilegeEscalation': value must be false"),
    ("a misspelt key", {"replicas": 2}, "additional properties 'replicas' not allowed"),
    ("a schedule without its experiment's spec fields",
     {"schedules": [{"name": "x", "namespace": "shop", "schedule": "0 * * * *", "experiment": {"spec": {}}}]},
     "at '/schedules/0/experiment/spec': missing properties 'target', 'fault', 'load', 'phases'"),
    ("a schedule policy Kubernetes does not know",
     {"schedules": [{"name": "x", "namespace": "shop", "schedule": "0 * * * *", "concurrencyPolicy": "Sometimes",
                     "experiment": {"spec": SPEC}}]},
     "at '/schedules/0/concurrencyPolicy': value must be one of 'Forbid', 'Replace', 'Allow'"),
    ("a schedule name too long for a CronJob",
     {"schedules": [{"name": "x" * 38, "namespace": "shop", "schedule": "0 * * * *", "experiment": {"spec": SPEC}}]},
     "at '/schedules/0/name': maxLength"),
    ("a schedule timeout that is not seconds",
     {"schedules": [{"name": "x", "namespace": "shop", "schedule": "0 * * * *", "timeoutSeconds": "15m",
                     "experiment": {"spec": SPEC}}]},
     "at '/schedules/0/timeoutSeconds': got string, want integer"),
]


@pytest.mark.parametrize(("values", "message"), [(v, m) for _, v, m in BAD], ids=[why for why, _, _ in BAD])
def test_bad_values_are_refused_with_the_key_named(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError) as refused:
        render(values)
    assert message in str(refused.value), str(refused.value)


def test_every_default_value_is_described_and_allowed() -> None:
    text = (CHART / "values.yaml").read_text()
    defaults = yaml.safe_load(text)
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(defaults)
        schema = chart.schema
    assert schema is not None and set(defaults) <= set(schema["properties"])
    lines = text.splitlines()
    for key in defaults:  # each top-level value has a comment right above it or above its block
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
        above = lines[index - 1].strip()
        assert above.startswith("#") or lines[index + 1].strip().startswith("# --"), key
