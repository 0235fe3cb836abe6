"""What the stress faults share: a pod pinned to the target's node runs stress-ng through the agent's `stress` mode.

Privileges: none. The pod runs as nobody (65534), non-root, with no capability, no privilege escalation and no
host namespace or path; its limits bound what stress-ng may take. It is never reverted, only deleted: stress-ng's
workers end with their pod (the agent kills its process group).
"""

from __future__ import annotations

from typing import Any, TypeVar

from chaos_operator.faults.helpers.pod import HelperPodFault, Run
from chaos_operator.faults.helpers.pod_spec import PodNeeds, duration_arg, ready_args
from chaos_operator.models.base import ApiModel

SECURITY_CONTEXT: dict[str, Any] = {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 65534,
                                    "runAsGroup": 65534, "capabilities": {"drop": ["ALL"]}}

S = TypeVar("S", bound=ApiModel)


class StressFault(HelperPodFault[S]):
    family = "stress"
    needs_revert = False

    def stress_args(self, fault: S) -> list[str]:
        raise NotImplementedError

    def limits(self, fault: S) -> dict[str, str]:
        raise NotImplementedError

    def needs(self, fault: S, run: Run) -> PodNeeds:
        if run.role == "revert":
            raise ValueError(f"{self.kind} has nothing to revert: its pod is simply deleted")
        args = ["stress", "--duration", duration_arg(run.chaos_s), *ready_args(), *self.stress_args(fault)]
        # It requests what it uses (requests = limits): the kubelet admits it only where the node has that room,
        # and the node's accounting shows the load it adds instead of taking it from other tenants unseen.
        limits = self.limits(fault)
        return PodNeeds(args=args, resources={"requests": dict(limits), "limits": limits},
                        security_context=SECURITY_CONTEXT, ready_file=True)
