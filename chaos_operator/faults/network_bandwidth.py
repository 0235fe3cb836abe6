"""NetworkBandwidth: a helper pod on the target's node limits the pod's egress rate with a tbf qdisc.

Everything but the kind is shared (helper_pod.py); the agent's arguments come from manifests.agent_argv.
"""

from __future__ import annotations

from chaos_operator.faults.helper_pod import HelperPodFault


class NetworkBandwidth(HelperPodFault):
    kind = "NetworkBandwidth"
