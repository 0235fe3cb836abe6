"""NetworkLatency: a helper pod on the target's node adds netem delay to the pod's egress.

Everything but the kind is shared (helper_pod.py); the agent's arguments come from manifests.agent_argv.
"""

from __future__ import annotations

from chaos_operator.faults.helper_pod import HelperPodFault


class NetworkLatency(HelperPodFault):
    kind = "NetworkLatency"
