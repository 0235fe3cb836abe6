"""NetworkBandwidth: the agent's `bandwidth` mode limits the pod's (scoped) traffic to `rate` with a tbf qdisc."""

from __future__ import annotations

from chaos_operator.faults.helpers.network import NetworkFault
from chaos_operator.faults.helpers.pod_spec import quantity_bytes
from chaos_operator.models.faults import NetworkBandwidthFault


class NetworkBandwidth(NetworkFault[NetworkBandwidthFault]):
    kind = "NetworkBandwidth"
    model = NetworkBandwidthFault
    mode = "bandwidth"

    def fault_args(self, fault: NetworkBandwidthFault) -> list[str]:
        argv = ["--rate", fault.rate]
        if fault.burst is not None:
            argv += ["--burst", str(quantity_bytes(fault.burst))]
        if fault.limit is not None:
            argv += ["--limit", str(quantity_bytes(fault.limit))]
        return argv


FAULT = NetworkBandwidth()
