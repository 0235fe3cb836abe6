"""What the stress faults share: a pod pinned to the target's node runs stress-ng through the agent's `stress` mode,
inside the target container's own cgroups, so the target's CPU quota and memory limit are what the fault exhausts.

The agent starts stress-ng stopped, writes its PID into the target container's cgroups (found by pod UID through the
host's /proc), checks, and lets it run (`agent/cgmove.py`). Privileges of a stress pod, and why each is there:
- the host's ``/proc`` read-only at ``/host/proc``: find the target's processes by pod UID and read their cgroups.
  No ``hostPID``: the PID written into ``cgroup.procs`` is stress-ng's in the pod's own PID namespace, which is how
  the kernel reads it, and the agent signals only its own child.
- the host's ``/sys/fs/cgroup`` (hostPath, writable) at ``/host/sys/fs/cgroup``: write that PID into the target
  container's ``cgroup.procs``.
- ``runAsUser: 0``: ``cgroup.procs`` is root's (0644), and cgroup v1 lets only root move another user's task.
- ``SYS_ADMIN`` and ``SYS_PTRACE``, for cgroup v2 nodes where the pod has its own cgroup namespace: the kernel
  refuses a move outside it, so the agent joins the host's (``setns``, CAP_SYS_ADMIN; opening PID 1's namespace
  needs ptrace access, CAP_SYS_PTRACE). Kubernetes refuses ``allowPrivilegeEscalation: false`` with SYS_ADMIN.
Everything else is dropped. Such a pod needs a ``privileged`` Pod Security level: it lives in the operator's own
namespace only, never the target's. It requests only what the agent itself uses: stress-ng's load is charged to the
target. It is never reverted, only deleted: the agent stops stress-ng's process group on SIGTERM, and stress-ng gets
SIGKILL should the agent die (PR_SET_PDEATHSIG), although it runs in another pod's cgroups.
"""

from __future__ import annotations

from typing import Any, TypeVar

from chaos_operator.faults.helpers.pod import HelperPodFault, Run
from chaos_operator.faults.helpers.pod_spec import HOST_CGROUP, HOST_PROC, PodNeeds, duration_arg, pod_uid, ready_args
from chaos_operator.models.base import ApiModel

SECURITY_CONTEXT: dict[str, Any] = {"runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN", "SYS_PTRACE"],
                                                                     "drop": ["ALL"]}}
# The agent's own Python beside stress-ng (whose load the target's cgroups carry): requests = limits.
AGENT_RESOURCES = {"cpu": "100m", "memory": "64Mi"}

S = TypeVar("S", bound=ApiModel)


class StressFault(HelperPodFault[S]):
    family = "stress"
    needs_revert = False

    def stress_args(self, fault: S) -> list[str]:
        raise NotImplementedError

    def needs(self, fault: S, run: Run) -> PodNeeds:
        if run.role == "revert":
            raise ValueError(f"{self.kind} has nothing to revert: its pod is simply deleted")
        args = ["stress", "--duration", duration_arg(run.chaos_s), *ready_args(), "--pod-uid", pod_uid(run.target_uid),
                "--proc-root", HOST_PROC, "--cgroup-root", HOST_CGROUP, *self.stress_args(fault)]
        return PodNeeds(args=args, resources={"requests": dict(AGENT_RESOURCES), "limits": dict(AGENT_RESOURCES)},
                        security_context=SECURITY_CONTEXT, host_proc=True, host_cgroup=True, ready_file=True)
