"""Helper pods for one fault of each kind with a fixed identity, as the unit tests of pod_spec build and read them."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from chaos_operator.agent import cli, modes
from chaos_operator.faults.helpers.pod_spec import Helper
from chaos_operator.models.spec import Fault
from tests.support import faultpods

UID = "0d5e8f3a-91c2-4b7e-8a61-5f2c9d7e3b10"


EXP_UID = "7b1c2d3e-4f50-4a6b-9c8d-0e1f2a3b4c5d"


FAULTS: dict[str, dict[str, Any]] = {
    "NetworkLatency": {"kind": "NetworkLatency", "latency": "100ms", "jitter": "20ms", "correlation": 25},
    "NetworkBandwidth": {"kind": "NetworkBandwidth", "rate": "2mbit", "interface": "eth0"},
    "CPUStress": {"kind": "CPUStress", "workers": 4, "load": 80},
    "MemoryStress": {"kind": "MemoryStress", "workers": 2, "size": "1Gi"},
}


NETWORK = ("NetworkLatency", "NetworkBandwidth")


STRESS = ("CPUStress", "MemoryStress")


def fault(kind: str, **changes: Any) -> Any:
    value = TypeAdapter(Fault).validate_python({**FAULTS[kind], **changes})
    assert not isinstance(value, str) and value.kind != "PodKill"
    return value


def identity(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(experiment="checkout-latency", experiment_uid=EXP_UID, namespace="chaos-system",
                                experiment_namespace="shop", target_uid=UID, node_name="node-b",
                                image="registry.example/chaos-operator:1.2.3",
                                chaos_s=120.0)
    return {**base, **changes}


def helper(kind: str = "NetworkLatency", **changes: Any) -> Helper:
    return faultpods.helper(changes.pop("fault", None) or fault(kind), **identity(**changes))


def helper_pod(kind: str = "NetworkLatency", **changes: Any) -> dict[str, Any]:
    return faultpods.pod(changes.pop("fault", None) or fault(kind), **identity(**changes))


def container(pod: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod["spec"]["containers"]
    return dict(only)


def agent_accepts(argv: list[str]) -> modes.Plan:
    """Parse as the agent does and plan with the agent's own table of modes: every value validated, nothing run."""
    return modes.plan(cli.build_parser().parse_args(argv))
