"""MemoryStress: a stress pod on the target's node holds `size` of memory with stress-ng's vm workers."""

from __future__ import annotations

from chaos_operator.faults.helpers.pod_spec import quantity_bytes
from chaos_operator.faults.helpers.stress import StressFault
from chaos_operator.models.faults import MemoryStressFault

AGENT_OVERHEAD_MEMORY_MI = 64  # the Python agent itself, beside stress-ng's allocation


class MemoryStress(StressFault[MemoryStressFault]):
    kind = "MemoryStress"
    model = MemoryStressFault

    def stress_args(self, fault: MemoryStressFault) -> list[str]:
        # size is the total: split evenly over the workers (stress-ng's --vm-bytes is per worker), at least 1Mi.
        per_worker = max(1, quantity_bytes(fault.size) // 1024**2 // fault.workers)
        return ["--vm", str(fault.workers), "--vm-bytes", f"{per_worker}M"]

    def limits(self, fault: MemoryStressFault) -> dict[str, str]:
        memory = quantity_bytes(fault.size) // 1024**2 + AGENT_OVERHEAD_MEMORY_MI
        return {"cpu": f"{100 + 100 * fault.workers}m", "memory": f"{memory}Mi"}


FAULT = MemoryStress()
