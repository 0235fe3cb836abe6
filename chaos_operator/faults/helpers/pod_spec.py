"""Generic, pure assembly of helper pods: names, labels, deadline and the pod around one agent run.

What runs in the pod (the agent's arguments), what it may use (resources) and which privileges it holds (with the
reason for each) come from the fault's own module through `PodNeeds`; nothing here knows a fault kind. Every
helper lives in the operator's namespace (never a tenant's: its privileges stay where only the operator's
admins reach) and gets: the target's node by name, no service-account token, a read-only root filesystem,
`drop: [ALL]`, `activeDeadlineSeconds` (so it ends even if the operator is gone; the agent reverts on SIGTERM and
at its own ``--duration``), and labels naming its experiment's namespace and UID plus an annotation with its full
name (an owner reference cannot cross namespaces; the finalizer, the startup sweep and the deadline remove
helpers). A fault-holding helper also gets its readiness: the agent creates ``READY_FILE`` (on a tiny in-memory
emptyDir) once its fault is in place and removes it first when it reverts, and an exec readinessProbe tests it
every second, so the pod is Ready exactly while the fault is in effect.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from chaos_operator.faults.base import (
    EXPERIMENT_ANNOTATION,
    EXPERIMENT_LABEL,
    EXPERIMENT_NS_LABEL,
    EXPERIMENT_UID_LABEL,
    HELPER_SELECTOR,
    MANAGED_BY,
    OPERATOR,
    ROLE_LABEL,
    TARGET_LABEL,
)

__all__ = ["EXPERIMENT_ANNOTATION", "EXPERIMENT_LABEL", "EXPERIMENT_NS_LABEL", "EXPERIMENT_UID_LABEL",
           "HELPER_SELECTOR", "MANAGED_BY", "OPERATOR", "ROLE_LABEL", "TARGET_LABEL"]

Role = Literal["fault", "revert"]
AGENT_COMMAND = ["python", "-m", "chaos_operator.agent"]
HOST_PROC = "/host/proc"
HOST_CGROUP = "/host/sys/fs/cgroup"
MAX_NAME = 63
# A pod UID as the API server writes it (or a static pod's 32-hex hash): checked before it reaches an argv.
POD_UID = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$")
_LABEL_VALUE_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")

GRACE_S = 30  # activeDeadlineSeconds beyond the chaos window: the operator normally deletes the pod long before
REVERT_DEADLINE_S = 60
TERMINATION_GRACE_S = 15  # SIGTERM -> the agent removes its qdisc / stops stress-ng (within 5 s) and reports
READY_DIR = "/run/chaos-agent"  # an emptyDir: writable under the read-only root filesystem
READY_FILE = f"{READY_DIR}/applied"
BASE_SECURITY: dict[str, Any] = {"readOnlyRootFilesystem": True, "seccompProfile": {"type": "RuntimeDefault"}}


@dataclass(frozen=True)
class PodNeeds:
    """What one agent run asks of its pod. The fault module that builds it documents why."""

    args: list[str]
    resources: dict[str, dict[str, str]]
    security_context: dict[str, Any]
    host_proc: bool = False  # the host's /proc read-only at HOST_PROC (to find the target by pod UID)
    host_pid: bool = False  # hostPID (to enter the target's namespaces by PID)
    host_cgroup: bool = False  # the host's cgroupfs writable at HOST_CGROUP (to move a process into the target's)
    ready_file: bool = False  # the args hold `--ready-file READY_FILE`: mount READY_DIR and probe the file


@dataclass(frozen=True)
class Helper:
    """Which helper pod: experiment, target, fault kind and family (its name prefix), and its role."""

    experiment: str
    experiment_uid: str
    namespace: str  # the helper's own: the operator's namespace
    experiment_namespace: str  # the experiment's and its target's
    target_uid: str
    node_name: str
    image: str
    kind: str
    family: str  # "net" or "stress": the name prefix, so `kubectl get pods` says what a helper does
    chaos_s: float  # the chaos window the fault is held for
    role: Role = "fault"


def helper_name(experiment: str, experiment_uid: str, target_uid: str, kind: str, role: Role, round_: int = 0,
                family: str = "net") -> str:
    """Deterministic: the same inputs give the same name, so a retried create finds its own pod (409) instead
    of starting a second one. At most 63 characters; the hash keeps different targets/rounds/roles apart."""
    digest = hashlib.sha256(f"{experiment}\0{experiment_uid}\0{target_uid}\0{kind}\0{role}\0{round_}".encode())
    suffix = digest.hexdigest()[:10]
    prefix = "chaos-revert" if role == "revert" else f"chaos-{family}"
    room = MAX_NAME - len(prefix) - len(suffix) - 2
    middle = re.sub(r"[^a-z0-9-]", "-", experiment.lower())[:room].strip("-")
    return f"{prefix}-{middle}-{suffix}" if middle else f"{prefix}-{suffix}"


def name_of(h: Helper) -> str:
    return helper_name(h.experiment, h.experiment_uid, h.target_uid, h.kind, h.role, family=h.family)


def _label_value(text: str) -> str:
    """A valid label value (at most 63, alphanumeric at both ends); the full name is in the annotation."""
    return _LABEL_VALUE_UNSAFE.sub("-", text)[:MAX_NAME].strip("-_.")


def labels(h: Helper) -> dict[str, str]:
    return {MANAGED_BY: OPERATOR, "app.kubernetes.io/name": "chaos-agent",
            EXPERIMENT_LABEL: _label_value(h.experiment), EXPERIMENT_NS_LABEL: h.experiment_namespace,
            EXPERIMENT_UID_LABEL: _label_value(h.experiment_uid), TARGET_LABEL: _label_value(h.target_uid),
            ROLE_LABEL: h.role}


def quantity_bytes(size: str) -> int:
    """Bytes of a Kubernetes binary quantity the models allow (Ki, Mi, Gi)."""
    number, unit = int(size[:-2]), size[-2:]
    return number * {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}[unit]


def duration_arg(chaos_s: float) -> str:
    """Whole seconds of the chaos window: the agent reverts by itself when they are up."""
    return str(max(1, math.ceil(chaos_s)))


def pod_uid(uid: str) -> str:
    if not POD_UID.fullmatch(uid):
        raise ValueError(f"target UID {uid!r} is not a pod UID")
    return uid


def deadline_s(h: Helper) -> int:
    """activeDeadlineSeconds: the chaos window plus a grace period, or a short bound for a revert-only pod."""
    return REVERT_DEADLINE_S if h.role == "revert" else math.ceil(h.chaos_s) + GRACE_S


def ready_args() -> list[str]:
    """The agent's option that makes it say, through READY_FILE, that its fault is in place."""
    return ["--ready-file", READY_FILE]


def ready_probe() -> dict[str, Any]:
    # Ready as soon as the file exists and unready at the first probe that misses it; `test` is coreutils in the
    # image (an argv, no shell).
    return {"exec": {"command": ["test", "-e", READY_FILE]}, "periodSeconds": 1, "failureThreshold": 1,
            "successThreshold": 1, "timeoutSeconds": 1}


def helper_pod(h: Helper, needs: PodNeeds) -> dict[str, Any]:
    """The whole Pod manifest of one helper."""
    # Bandit B108 here: /tmp is the pod's own emptyDir mount point, not a shared host directory.
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]  # nosec B108
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}]
    if needs.host_proc:
        mounts.append({"name": "host-proc", "mountPath": HOST_PROC, "readOnly": True})
        volumes.append({"name": "host-proc", "hostPath": {"path": "/proc", "type": "Directory"}})
    if needs.host_cgroup:
        mounts.append({"name": "host-cgroup", "mountPath": HOST_CGROUP})
        volumes.append({"name": "host-cgroup", "hostPath": {"path": "/sys/fs/cgroup", "type": "Directory"}})
    if needs.ready_file:
        mounts.append({"name": "ready", "mountPath": READY_DIR})
        volumes.append({"name": "ready", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}})
    container: dict[str, Any] = {
        "name": "agent", "image": h.image, "imagePullPolicy": "IfNotPresent",
        "command": list(AGENT_COMMAND), "args": list(needs.args),
        "securityContext": {**BASE_SECURITY, **needs.security_context}, "resources": needs.resources,
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "volumeMounts": mounts,
    }
    if needs.ready_file:
        container["readinessProbe"] = ready_probe()
    spec: dict[str, Any] = {
        "nodeName": h.node_name,  # on the target's node: the scheduler is not involved
        "restartPolicy": "Never",
        "activeDeadlineSeconds": deadline_s(h),
        "terminationGracePeriodSeconds": TERMINATION_GRACE_S,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostPID": needs.host_pid,
        # Bound to the node by name; tolerate its NoExecute taints so the fault is not evicted before the target.
        "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
        "containers": [container],
        "volumes": volumes,
    }
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name_of(h), "namespace": h.namespace, "labels": labels(h),
                     "annotations": {EXPERIMENT_ANNOTATION: h.experiment}},
        "spec": spec,
    }
