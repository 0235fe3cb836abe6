"""NetworkLatency: the agent's `netem` mode delays the pod's (scoped) traffic by `latency` +/- `jitter`."""

from __future__ import annotations

from chaos_operator.faults.helpers.network import NetworkFault
from chaos_operator.models.faults import NetworkLatencyFault


class NetworkLatency(NetworkFault[NetworkLatencyFault]):
    kind = "NetworkLatency"
    model = NetworkLatencyFault
    mode = "netem"

    def fault_args(self, fault: NetworkLatencyFault) -> list[str]:
        argv = ["--latency", str(fault.latency)]
        if fault.jitter > 0:
            argv += ["--jitter", str(fault.jitter)]
            if fault.correlation > 0:  # netem's correlation applies to the jitter only
                argv += ["--correlation", str(fault.correlation)]
        return argv


FAULT = NetworkLatency()
