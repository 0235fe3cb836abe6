"""NetworkDuplication: the agent's `duplicate` mode sends `percent` of the pod's (scoped) packets twice."""

from __future__ import annotations

from chaos_operator.faults.helpers.network import NetworkFault, percent_arg
from chaos_operator.models.faults import NetworkDuplicationFault


class NetworkDuplication(NetworkFault[NetworkDuplicationFault]):
    kind = "NetworkDuplication"
    model = NetworkDuplicationFault
    mode = "duplicate"

    def fault_args(self, fault: NetworkDuplicationFault) -> list[str]:
        return ["--percent", percent_arg(fault.percent)]


FAULT = NetworkDuplication()
