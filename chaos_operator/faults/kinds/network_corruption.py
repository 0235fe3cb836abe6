"""NetworkCorruption: the agent's `corrupt` mode flips a random bit in `percent` of the pod's (scoped) packets."""

from __future__ import annotations

from chaos_operator.faults.helpers.network import NetworkFault, percent_arg
from chaos_operator.models.faults import NetworkCorruptionFault


class NetworkCorruption(NetworkFault[NetworkCorruptionFault]):
    kind = "NetworkCorruption"
    model = NetworkCorruptionFault
    mode = "corrupt"

    def fault_args(self, fault: NetworkCorruptionFault) -> list[str]:
        return ["--percent", percent_arg(fault.percent)]


FAULT = NetworkCorruption()
