"""NetworkLoss: the agent's `loss` mode drops `percent` of the pod's (scoped) packets (netem loss)."""

from __future__ import annotations

from chaos_operator.faults.helpers.network import NetworkFault, percent_arg
from chaos_operator.models.faults import NetworkLossFault


class NetworkLoss(NetworkFault[NetworkLossFault]):
    kind = "NetworkLoss"
    model = NetworkLossFault
    mode = "loss"

    def fault_args(self, fault: NetworkLossFault) -> list[str]:
        argv = ["--percent", percent_arg(fault.percent)]
        return argv + (["--correlation", str(fault.correlation)] if fault.correlation > 0 else [])


FAULT = NetworkLoss()
