"""A fault-holding helper's readiness (pure): the agent's ready file, the in-memory volume it lives on, and the
exec probe that tests it. The argv is checked with the agent's own parser, so probe and agent agree on the path."""

from __future__ import annotations

import posixpath
from typing import Any

import pytest
from pydantic import TypeAdapter

from chaos_operator.agent import modes
from chaos_operator.models.spec import Fault
from tests.support.helper_pods import NETWORK, STRESS, agent_accepts, container, helper_pod

READY_FILE = "/run/chaos-agent/applied"
ALL = (*NETWORK, *STRESS, "NetworkLoss", "NetworkPartition")


OTHERS: dict[str, dict[str, Any]] = {
    "NetworkLoss": {"kind": "NetworkLoss", "percent": 5},
    "NetworkPartition": {"kind": "NetworkPartition", "destinations": [{"cidr": "10.0.0.0/8"}]},
}


def pod_of(kind: str, role: str = "fault") -> dict[str, Any]:
    if kind in OTHERS:
        return helper_pod(fault=TypeAdapter(Fault).validate_python(OTHERS[kind]), role=role)
    return helper_pod(kind, role=role)


@pytest.mark.parametrize("kind", ALL)
def test_a_fault_helper_is_ready_only_through_its_agents_file(kind: str) -> None:
    pod = pod_of(kind)
    spec, ctr = pod["spec"], container(pod)
    probe = ctr["readinessProbe"]
    assert probe["exec"] == {"command": ["test", "-e", READY_FILE]}  # coreutils `test`, an argv, no shell
    assert probe["periodSeconds"] == 1 and probe["failureThreshold"] == 1 and probe["successThreshold"] == 1
    assert {"name": "ready", "mountPath": posixpath.dirname(READY_FILE)} in ctr["volumeMounts"]
    assert {"name": "ready", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}} in spec["volumes"]
    args = ctr["args"]
    assert args[args.index("--ready-file") + 1] == READY_FILE
    if kind == "NetworkPartition":  # the operator resolves destinations before it builds the argv
        args = [*args, "--destination", "10.0.0.0/8"]
    plan = agent_accepts(args)  # the agent's own parser: it will write the very file the probe tests
    assert isinstance(plan, modes.Shape | modes.Stress) and plan.ready_file == READY_FILE
    # The helper's other guarantees stay.
    assert spec["automountServiceAccountToken"] is False and spec["activeDeadlineSeconds"] > 0
    assert ctr["securityContext"]["readOnlyRootFilesystem"] is True
    assert ctr["securityContext"]["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("kind", NETWORK)
def test_a_revert_only_helper_runs_to_completion_without_readiness(kind: str) -> None:
    pod = pod_of(kind, role="revert")
    ctr = container(pod)
    assert "readinessProbe" not in ctr and "--ready-file" not in ctr["args"]
    assert all(v["name"] != "ready" for v in pod["spec"]["volumes"])
    assert isinstance(agent_accepts(ctr["args"]), modes.Revert)


@pytest.mark.parametrize("path", ["applied", "/run/../etc/passwd", "/run/chaos agent", "/run/$(id)", "/run/x/",
                                  "-x", ""])
def test_the_agent_refuses_a_ready_file_that_is_not_a_plain_absolute_path(path: str) -> None:
    argv = ["bandwidth", "--duration", "10", "--ready-file", path, "--pod-uid", "0d5e8f3a-91c2-4b7e-8a61-5f2c9d7e3b10",
            "--rate", "1mbit"]
    with pytest.raises((ValueError, modes.UsageError)):
        agent_accepts(argv)
