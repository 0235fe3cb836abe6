"""CPUStress: a stress pod on the target's node keeps `workers` CPUs `load` % busy with stress-ng."""

from __future__ import annotations

from chaos_operator.faults.helpers.stress import StressFault
from chaos_operator.models.faults import CPUStressFault


class CPUStress(StressFault[CPUStressFault]):
    kind = "CPUStress"
    model = CPUStressFault

    def stress_args(self, fault: CPUStressFault) -> list[str]:
        return ["--cpu", str(fault.workers), "--cpu-load", str(fault.load)]

    def limits(self, fault: CPUStressFault) -> dict[str, str]:
        cpu = max(1, fault.workers * fault.load * 10) + 100  # millicores: each worker `load` % of a CPU, + the agent
        return {"cpu": f"{cpu}m", "memory": "128Mi"}


FAULT = CPUStress()
