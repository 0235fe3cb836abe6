"""CPUStress: `workers` stress-ng workers at `load` %, inside the target container's cgroups (its CPU quota)."""

from __future__ import annotations

from chaos_operator.faults.helpers.stress import StressFault
from chaos_operator.models.faults import CPUStressFault


class CPUStress(StressFault[CPUStressFault]):
    kind = "CPUStress"
    model = CPUStressFault

    def stress_args(self, fault: CPUStressFault) -> list[str]:
        return ["--cpu", str(fault.workers), "--cpu-load", str(fault.load)]


FAULT = CPUStress()
