"""MemoryStress: a stress pod on the target's node holds memory with stress-ng.

Everything but the kind is shared (helper_pod.py); the agent's arguments come from manifests.agent_argv.
"""

from __future__ import annotations

from chaos_operator.faults.helper_pod import HelperPodFault


class MemoryStress(HelperPodFault):
    kind = "MemoryStress"
