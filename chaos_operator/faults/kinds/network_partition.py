"""NetworkPartition: the agent's `partition` mode drops every packet to the destinations (and, with direction both,
from them) with a blackhole qdisc under its scoped layout; all other traffic flows."""

from __future__ import annotations

from chaos_operator.faults.helpers.network import NetworkFault
from chaos_operator.models.faults import NetworkPartitionFault


class NetworkPartition(NetworkFault[NetworkPartitionFault]):
    kind = "NetworkPartition"
    model = NetworkPartitionFault
    mode = "partition"

    def fault_args(self, fault: NetworkPartitionFault) -> list[str]:
        return []  # the destinations (required) are the common --destination arguments


FAULT = NetworkPartition()
