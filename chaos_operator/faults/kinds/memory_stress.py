"""MemoryStress: stress-ng's vm workers hold `size` of memory inside the target container's cgroups (its limit)."""

from __future__ import annotations

from chaos_operator.faults.helpers.pod_spec import quantity_bytes
from chaos_operator.faults.helpers.stress import StressFault
from chaos_operator.models.faults import MemoryStressFault


class MemoryStress(StressFault[MemoryStressFault]):
    kind = "MemoryStress"
    model = MemoryStressFault

    def stress_args(self, fault: MemoryStressFault) -> list[str]:
        # size is the total: split evenly over the workers (stress-ng's --vm-bytes is per worker), at least 1Mi.
        per_worker = max(1, quantity_bytes(fault.size) // 1024**2 // fault.workers)
        return ["--vm", str(fault.workers), "--vm-bytes", f"{per_worker}M"]


FAULT = MemoryStress()
