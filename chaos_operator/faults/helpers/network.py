"""What every network fault shares: the helper's privileges (and why), its small resources, the agent's common
arguments (target, owner marker, scope, device), the revert-only run, and resolving `destinations` to addresses.

Privileges of a network helper, and why each is there:
- ``hostPID`` and the host's ``/proc`` read-only at ``/host/proc``: the agent finds the target's processes by pod
  UID in ``/proc/*/cgroup`` and enters the network namespace at ``/proc/PID/ns/net``.
- ``NET_ADMIN``: ``tc qdisc``/``tc filter`` and ``ip link`` (the ifb device of ingress faults, the owner marker)
  inside that namespace.
- ``SYS_ADMIN``: ``nsenter --net`` calls ``setns(CLONE_NEWNET)``, which the kernel allows only with CAP_SYS_ADMIN
  (man 2 setns). Kubernetes refuses ``allowPrivilegeEscalation: false`` together with SYS_ADMIN, so the network
  helper leaves it unset.
- ``SYS_PTRACE``: opening ``/proc/PID/ns/net`` of a process owned by another UID (most applications do not run
  as root) needs ptrace read access to it.
Everything else is dropped. Such pods need a namespace whose Pod Security level is ``privileged``: they are created in
the operator's own namespace only, never the target's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, TypeVar

from chaos_operator.faults.base import FaultContext, FaultError
from chaos_operator.faults.helpers.pod import HelperPodFault, Run
from chaos_operator.faults.helpers.pod_spec import HOST_PROC, PodNeeds, duration_arg, pod_uid, ready_args
from chaos_operator.models.faults import Destination, NetworkScope
from chaos_operator.targeting.pods import pod_info
from chaos_operator.targeting.selector import matches, to_query

SECURITY_CONTEXT: dict[str, Any] = {"runAsUser": 0, "capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"],
                                                                     "drop": ["ALL"]}}
RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
MAX_ADDRESSES = 256  # the agent's own bound on destinations

N = TypeVar("N", bound=NetworkScope)


class NetworkFault(HelperPodFault[N]):
    """A helper pod on the target's node runs one agent mode on the pod's network namespace."""

    family = "net"
    needs_revert = True
    mode = ""

    def fault_args(self, fault: N) -> list[str]:
        """This fault's own agent arguments (after the common ones)."""
        raise NotImplementedError

    def needs(self, fault: N, run: Run) -> PodNeeds:
        argv = [self.mode]
        if run.role == "revert":  # removes whatever is ours (both directions); the scope does not matter
            argv += ["--revert-only", "--pod-uid", pod_uid(run.target_uid), "--proc-root", HOST_PROC]
        else:
            argv += ["--duration", duration_arg(run.chaos_s), *ready_args(), "--pod-uid", pod_uid(run.target_uid),
                     "--proc-root", HOST_PROC, *self.fault_args(fault)]
            for cidr in run.destinations:
                argv += ["--destination", cidr]
            for port in fault.ports or []:
                argv += ["--port", str(port)]
            if fault.direction != "egress":
                argv += ["--direction", fault.direction]
        if run.owner:
            argv += ["--owner", run.owner]
        if fault.interface:
            argv += ["--interface", fault.interface]
        # A revert-only run holds nothing: it runs to completion, with no ready file.
        return PodNeeds(args=argv, resources=RESOURCES, security_context=SECURITY_CONTEXT, host_proc=True,
                        host_pid=True, ready_file=run.role == "fault")

    async def destinations(self, ctx: FaultContext, fault: N) -> Sequence[str]:
        if not fault.destinations:
            return ()
        found: dict[str, None] = {}
        for destination in fault.destinations:
            for address in await _addresses(ctx, destination):
                found[address] = None
        if not found:
            raise FaultError("the destinations resolve to no address (no Service IP, no matching pod)")
        if len(found) > MAX_ADDRESSES:
            raise FaultError(f"the destinations resolve to {len(found)} addresses, more than {MAX_ADDRESSES}")
        return tuple(found)


def _cidr(address: str) -> str:
    return str(ipaddress.ip_network(address, strict=False))  # a bare IP becomes /32 or /128


async def _addresses(ctx: FaultContext, d: Destination) -> list[str]:
    """A CIDR as given (host bits cleared); a Service's ClusterIPs and its pods' IPs; a selector's pods' IPs."""
    if d.cidr is not None:
        return [_cidr(d.cidr)]
    if d.service is not None:
        service = await ctx.kube.get_service(ctx.namespace, d.service)
        if service is None:
            raise FaultError(f"destination Service {d.service} not found in {ctx.namespace}")
        spec = service.get("spec") or {}
        ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"]
        selector = spec.get("selector") or {}
        if selector:
            query = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
            ips += _pod_ips(await ctx.kube.list_pods(ctx.namespace, query), None)
        return [_cidr(ip) for ip in ips]
    assert d.selector is not None
    pods = await ctx.kube.list_pods(ctx.namespace, to_query(d.selector))
    return [_cidr(ip) for ip in _pod_ips(pods, d)]


def _pod_ips(pods: list[dict[str, Any]], d: Destination | None) -> list[str]:
    out: list[str] = []
    for pod in pods:
        info = pod_info(pod)
        if d is not None and d.selector is not None and not matches(d.selector, info.labels):
            continue  # the server-side filter is re-checked, as for targets
        out += info.pod_ips
    return out


def percent_arg(value: float) -> str:
    """A share as the agent reads it: at most two decimals, no exponent (the model bounds it to 0.01-100)."""
    return f"{round(value, 2):g}"
