"""Pure builders of helper pods (network faults) and stress pods, and of the agent's argv (design §5).

No I/O and no client imports: every function maps typed models to plain JSON-ready dicts and lists.

Privileges of the network helper, and why each is there:
- ``hostPID`` and the host's ``/proc`` read-only at ``/host/proc``: the agent finds the target's processes by pod
  UID in ``/proc/*/cgroup`` and enters the network namespace at ``/proc/PID/ns/net``.
- ``NET_ADMIN``: ``tc qdisc replace/del`` inside that namespace.
- ``SYS_ADMIN``: ``nsenter --net`` calls ``setns(CLONE_NEWNET)``, which the kernel allows only with CAP_SYS_ADMIN
  (man 2 setns). Kubernetes refuses ``allowPrivilegeEscalation: false`` together with SYS_ADMIN, so the network
  helper leaves it unset; the stress pod, which needs no capability at all, sets it to false.
- ``SYS_PTRACE``: opening ``/proc/PID/ns/net`` of a process owned by another UID (most applications do not run
  as root) needs ptrace read access to it.
Everything else is dropped (``drop: [ALL]``), the root filesystem is read-only, no service-account token is
mounted, and ``activeDeadlineSeconds`` ends the pod even if the operator is gone (the agent reverts on SIGTERM
and at its own ``--duration``). Such pods need a namespace whose Pod Security level is ``privileged``.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from chaos_operator.models import GROUP, KIND, VERSION
from chaos_operator.models.spec import CPUStressFault, MemoryStressFault, NetworkBandwidthFault, NetworkLatencyFault

HelperFault = NetworkLatencyFault | NetworkBandwidthFault | CPUStressFault | MemoryStressFault
Role = Literal["fault", "revert"]

# -- the agent's command line, in one place (chaos_operator/agent/cli.py is the authority; a unit test parses
#    every argv built here with the agent's own parser) --------------------------------------------------------
AGENT_COMMAND = ["python", "-m", "chaos_operator.agent"]
MODES: dict[str, str] = {"NetworkLatency": "netem", "NetworkBandwidth": "bandwidth", "CPUStress": "stress",
                         "MemoryStress": "stress"}
NETWORK_KINDS = frozenset({"NetworkLatency", "NetworkBandwidth"})
HOST_PROC = "/host/proc"

# -- labels and names ---------------------------------------------------------------------------------------
MANAGED_BY = "app.kubernetes.io/managed-by"
OPERATOR = "chaos-operator"
EXPERIMENT_LABEL = f"{GROUP}/experiment"
TARGET_LABEL = f"{GROUP}/target-uid"
ROLE_LABEL = f"{GROUP}/role"
HELPER_SELECTOR = f"{MANAGED_BY}={OPERATOR}"
MAX_NAME = 63
# A pod UID as the API server writes it (or a static pod's 32-hex hash): checked before it reaches an argv.
POD_UID = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$")
_LABEL_VALUE_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")

# -- bounds -------------------------------------------------------------------------------------------------
GRACE_S = 30  # activeDeadlineSeconds beyond the chaos window: the operator normally deletes the pod long before
REVERT_DEADLINE_S = 60
TERMINATION_GRACE_S = 15  # SIGTERM -> the agent removes its qdisc / stops stress-ng (within 5 s) and reports
AGENT_OVERHEAD_MEMORY_MI = 64  # the Python agent itself, beside stress-ng's allocation


@dataclass(frozen=True)
class Helper:
    """One helper pod: which experiment, which target, which fault, and whether it injects or only reverts."""

    experiment: str
    experiment_uid: str
    namespace: str
    target_uid: str
    node_name: str
    image: str
    fault: HelperFault
    chaos_s: float  # the chaos window the fault is held for
    role: Role = "fault"
    round: int = 0


def is_network(fault: HelperFault) -> bool:
    return fault.kind in NETWORK_KINDS


def helper_name(experiment: str, experiment_uid: str, target_uid: str, kind: str, role: Role,
                round_: int = 0) -> str:
    """Deterministic: the same inputs give the same name, so a retried create finds its own pod (409) instead
    of starting a second one. At most 63 characters; the hash keeps different targets/rounds/roles apart."""
    digest = hashlib.sha256(f"{experiment}\0{experiment_uid}\0{target_uid}\0{kind}\0{role}\0{round_}".encode())
    suffix = digest.hexdigest()[:10]
    prefix = "chaos-revert" if role == "revert" else ("chaos-net" if kind in NETWORK_KINDS else "chaos-stress")
    room = MAX_NAME - len(prefix) - len(suffix) - 2
    middle = re.sub(r"[^a-z0-9-]", "-", experiment.lower())[:room].strip("-")
    return f"{prefix}-{middle}-{suffix}" if middle else f"{prefix}-{suffix}"


def name_of(h: Helper) -> str:
    return helper_name(h.experiment, h.experiment_uid, h.target_uid, h.fault.kind, h.role, h.round)


def _label_value(text: str) -> str:
    """A valid label value (at most 63, alphanumeric at both ends); the full name is in the owner reference."""
    value = _LABEL_VALUE_UNSAFE.sub("-", text)[:MAX_NAME].strip("-_.")
    return value


def labels(h: Helper) -> dict[str, str]:
    return {MANAGED_BY: OPERATOR, "app.kubernetes.io/name": "chaos-agent",
            EXPERIMENT_LABEL: _label_value(h.experiment), TARGET_LABEL: _label_value(h.target_uid),
            ROLE_LABEL: h.role}


def _bytes(size: str) -> int:
    number, unit = int(size[:-2]), size[-2:]
    return number * {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}[unit]


def _mebibytes(size: str) -> int:
    return _bytes(size) // 1024**2


def duration_arg(h: Helper) -> str:
    """Whole seconds of the chaos window: the agent reverts by itself when they are up."""
    return str(max(1, math.ceil(h.chaos_s)))


def agent_argv(h: Helper) -> list[str]:
    """The agent's arguments (after AGENT_COMMAND) for this helper. Every value comes from a model field whose
    pattern or range the CRD and the models enforce, so no element can hold whitespace, a shell metacharacter
    or an option-looking value; there is no shell anywhere."""
    fault = h.fault
    if not POD_UID.fullmatch(h.target_uid):
        raise ValueError(f"target UID {h.target_uid!r} is not a pod UID")
    argv = [MODES[fault.kind]]
    if h.role == "revert":
        if not isinstance(fault, NetworkLatencyFault | NetworkBandwidthFault):
            raise ValueError(f"{fault.kind} has nothing to revert: its pod is simply deleted")
        argv += ["--revert-only", "--pod-uid", h.target_uid, "--proc-root", HOST_PROC]
        return argv + (["--interface", fault.interface] if fault.interface else [])
    argv += ["--duration", duration_arg(h)]
    if isinstance(fault, NetworkLatencyFault):
        argv += ["--pod-uid", h.target_uid, "--proc-root", HOST_PROC, "--latency", str(fault.latency)]
        if fault.jitter > 0:
            argv += ["--jitter", str(fault.jitter)]
            if fault.correlation > 0:  # netem's correlation applies to the jitter only
                argv += ["--correlation", str(fault.correlation)]
    elif isinstance(fault, NetworkBandwidthFault):
        argv += ["--pod-uid", h.target_uid, "--proc-root", HOST_PROC, "--rate", fault.rate]
        if fault.burst is not None:
            argv += ["--burst", str(_bytes(fault.burst))]
        if fault.limit is not None:
            argv += ["--limit", str(_bytes(fault.limit))]
    elif isinstance(fault, CPUStressFault):
        argv += ["--cpu", str(fault.workers), "--cpu-load", str(fault.load)]
    else:
        # size is the total: split evenly over the workers (stress-ng's --vm-bytes is per worker), at least 1Mi.
        per_worker = max(1, _mebibytes(fault.size) // fault.workers)
        argv += ["--vm", str(fault.workers), "--vm-bytes", f"{per_worker}M"]
    if isinstance(fault, NetworkLatencyFault | NetworkBandwidthFault) and fault.interface:
        argv += ["--interface", fault.interface]
    return argv


def deadline_s(h: Helper) -> int:
    """activeDeadlineSeconds: the chaos window plus a grace period, or a short bound for a revert-only pod."""
    return REVERT_DEADLINE_S if h.role == "revert" else math.ceil(h.chaos_s) + GRACE_S


def resources(fault: HelperFault, role: Role) -> dict[str, dict[str, str]]:
    """Small requests so the pinned pod is admitted on a busy node; limits that bound what it may take."""
    if role == "revert" or is_network(fault):
        return {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
    if isinstance(fault, CPUStressFault):
        cpu = max(1, fault.workers * fault.load * 10) + 100  # millicores: each worker keeps `load` % of a CPU
        return {"requests": {"cpu": "10m", "memory": "32Mi"},
                "limits": {"cpu": f"{cpu}m", "memory": "128Mi"}}
    assert isinstance(fault, MemoryStressFault)
    memory = _mebibytes(fault.size) + AGENT_OVERHEAD_MEMORY_MI
    # A small memory request keeps the stress pod first in line for the OOM killer if the node runs out.
    return {"requests": {"cpu": "10m", "memory": "32Mi"},
            "limits": {"cpu": f"{100 + 100 * fault.workers}m", "memory": f"{memory}Mi"}}


def security_context(fault: HelperFault) -> dict[str, Any]:
    base: dict[str, Any] = {"readOnlyRootFilesystem": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if is_network(fault):
        # Root with exactly these capabilities (see the module docstring for why each is needed).
        return {**base, "runAsUser": 0, "capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"],
                                                         "drop": ["ALL"]}}
    return {**base, "allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 65534,
            "runAsGroup": 65534, "capabilities": {"drop": ["ALL"]}}


def owner_reference(experiment: str, experiment_uid: str) -> dict[str, Any]:
    # controller: this experiment manages the pod; blockOwnerDeletion false: deleting the experiment never
    # waits on its helpers (the finalizer recovers them first, garbage collection removes any left).
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": experiment, "uid": experiment_uid,
            "controller": True, "blockOwnerDeletion": False}


def helper_pod(h: Helper) -> dict[str, Any]:
    """The whole Pod manifest of one helper (network agent) or stress pod."""
    network = is_network(h.fault)
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}]
    if network:
        mounts.append({"name": "host-proc", "mountPath": HOST_PROC, "readOnly": True})
        volumes.append({"name": "host-proc", "hostPath": {"path": "/proc", "type": "Directory"}})
    container = {
        "name": "agent", "image": h.image, "imagePullPolicy": "IfNotPresent",
        "command": list(AGENT_COMMAND), "args": agent_argv(h),
        "securityContext": security_context(h.fault), "resources": resources(h.fault, h.role),
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "volumeMounts": mounts,
    }
    spec: dict[str, Any] = {
        "nodeName": h.node_name,  # on the target's node: the scheduler is not involved
        "restartPolicy": "Never",
        "activeDeadlineSeconds": deadline_s(h),
        "terminationGracePeriodSeconds": TERMINATION_GRACE_S,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostPID": network,
        # Bound to the node by name; tolerate its NoExecute taints so the fault is not evicted before the target.
        "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
        "containers": [container],
        "volumes": volumes,
    }
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name_of(h), "namespace": h.namespace, "labels": labels(h),
                     "ownerReferences": [owner_reference(h.experiment, h.experiment_uid)]},
        "spec": spec,
    }
