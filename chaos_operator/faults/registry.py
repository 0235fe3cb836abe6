"""Maps a fault `kind` to its implementation. Adding a fault adds one line here."""

from __future__ import annotations

from chaos_operator.faults.base import Fault
from chaos_operator.faults.cpu_stress import CPUStress
from chaos_operator.faults.memory_stress import MemoryStress
from chaos_operator.faults.network_bandwidth import NetworkBandwidth
from chaos_operator.faults.network_corruption import NetworkCorruption
from chaos_operator.faults.network_duplication import NetworkDuplication
from chaos_operator.faults.network_latency import NetworkLatency
from chaos_operator.faults.network_loss import NetworkLoss
from chaos_operator.faults.network_partition import NetworkPartition
from chaos_operator.faults.pod_kill import PodKill

FAULTS: dict[str, Fault] = {
    "PodKill": PodKill(),
    "NetworkLatency": NetworkLatency(),
    "NetworkBandwidth": NetworkBandwidth(),
    "CPUStress": CPUStress(),
    "MemoryStress": MemoryStress(),
    "NetworkLoss": NetworkLoss(),
    "NetworkCorruption": NetworkCorruption(),
    "NetworkDuplication": NetworkDuplication(),
    "NetworkPartition": NetworkPartition(),
}


def fault_for(kind: str) -> Fault:
    try:
        return FAULTS[kind]
    except KeyError:
        raise ValueError(f"no fault implementation for kind {kind!r}") from None
