"""The sandbox's second kubeconfig user: `demo-user`, who may manage ChaosExperiments in namespace `demo` and read
its pods and services, but not delete pods. With the sandbox's RBAC on (`chaos-operator sandbox up`), kubectl with
this user's kubeconfig shows what a restricted user is refused (`kubectl auth can-i delete pods -n demo` -> no), and
with the chart's admission policy installed, which experiments they may create (docs/sandbox.md)."""

from __future__ import annotations

import pathlib
from typing import Any

from chaos_sandbox.emulator import EmulatorThread

USER, NAMESPACE, ROLE = "demo-user", "demo", "chaos-sandbox:experimenter"
RULES: list[dict[str, Any]] = [
    {"apiGroups": ["chaosoperator.dev"], "resources": ["chaosexperiments"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["pods", "services", "events"], "verbs": ["get", "list", "watch"]},
]


def add_restricted_user(emu: EmulatorThread, path: pathlib.Path) -> pathlib.Path:
    """Store the user's ClusterRole and RoleBinding (in `demo`); write and return their kubeconfig."""
    if emu.get("clusterroles", None, ROLE) is None:
        emu.create("clusterroles", {"metadata": {"name": ROLE}, "rules": RULES})
        emu.create("rolebindings", {"metadata": {"name": ROLE, "namespace": NAMESPACE},
                                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                "name": ROLE},
                                    "subjects": [{"kind": "User", "name": USER}]}, NAMESPACE)
    return emu.write_kubeconfig(path, NAMESPACE, user=USER)
