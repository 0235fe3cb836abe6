"""Resolve targets through KubeApi with the pure selection rules."""

from __future__ import annotations

from dataclasses import dataclass

from chaos_operator.models.spec import Target
from chaos_operator.models.status import TargetRef
from chaos_operator.ports import KubeApi
from chaos_operator.targeting.pods import PodInfo, pod_info
from chaos_operator.targeting.selection import NoTargets, choose, eligible
from chaos_operator.targeting.selector import to_query


@dataclass(frozen=True)
class Resolved:
    targets: list[TargetRef]
    ready_matching: int  # Ready pods matching the selector, the workload's size to return to
    summary: str  # one sentence for the TargetsSelected event


async def resolve(kube: KubeApi, namespace: str, target: Target, seed: int,
                  operator_pods: frozenset[str]) -> Resolved:
    # Server-side labelSelector narrows the list; eligible() verifies every pod client-side again.
    raw = await kube.list_pods(namespace, to_query(target.selector))
    pods = [pod_info(obj) for obj in raw]
    ok, skipped = eligible(pods, target.selector, operator_pods, namespace=namespace)
    if not ok:
        raise NoTargets.for_pods(len(pods), skipped)
    chosen = choose(ok, target.mode, target.value, seed)
    refs = [_ref(p) for p in chosen]
    names = ", ".join(r.name for r in refs)
    summary = f"selected {len(refs)} of {len(ok)} eligible pods ({names}); {len(skipped)} skipped"
    return Resolved(refs, len(ok), summary)


def _ref(pod: PodInfo) -> TargetRef:
    return TargetRef(name=pod.name, uid=pod.uid, node_name=pod.node_name, pod_ip=pod.pod_ip)

