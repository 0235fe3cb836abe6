"""Which pods an experiment may touch, and which of those it picks (the safety rules in README.md)."""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chaos_operator.models.spec import LabelSelector, Mode
from chaos_operator.targeting.pods import PodInfo
from chaos_operator.targeting.selector import matches

PROTECTED_NAMESPACES: frozenset[str] = frozenset({"kube-system", "kube-public", "kube-node-lease"})
OPERATOR_LABEL = ("app.kubernetes.io/name", "chaos-operator")
HELPER_LABEL = ("app.kubernetes.io/managed-by", "chaos-operator")  # helper and stress pods
SEED_LIMIT = 2**53  # seeds stay exact as JSON numbers (status.seed)


class NamespaceRefused(Exception):
    """The experiment's namespace may not be targeted."""


class NoTargets(Exception):
    """No pod is eligible; the message says how many matched and why each was skipped."""

    @classmethod
    def for_pods(cls, matched: int, skipped: Sequence[Skip]) -> NoTargets:
        if matched == 0:
            return cls("no pod in the namespace matches the selector")
        return cls(f"{matched} pods match the selector but none is eligible: {describe_skips(skipped)}")


@dataclass(frozen=True)
class Skip:
    pod: str
    reason: str

    def __str__(self) -> str:
        return f"{self.pod} ({self.reason})"


def check_namespace(namespace: str, operator_namespace: str, allowed: frozenset[str] | None,
                    protected: frozenset[str] = frozenset()) -> None:
    """Raise NamespaceRefused unless experiments may target ``namespace``.

    ``protected``: namespaces the installation adds to the built-in ones (`--protect-namespace`)."""
    if namespace in PROTECTED_NAMESPACES:
        raise NamespaceRefused(f"namespace {namespace} is a protected system namespace and is never targeted")
    if namespace in protected:
        raise NamespaceRefused(f"namespace {namespace} is protected by the operator's configuration "
                               "and is never targeted")
    if namespace == operator_namespace:
        raise NamespaceRefused(f"namespace {namespace} is the operator's own namespace and is never targeted")
    if allowed and namespace not in allowed:
        names = ", ".join(sorted(allowed))
        raise NamespaceRefused(f"namespace {namespace} is not in the allowed namespaces ({names})")


def eligible(
    pods: Iterable[PodInfo],
    selector: LabelSelector,
    operator_pod_names: frozenset[str],
    namespace: str | None = None,
) -> tuple[list[PodInfo], list[Skip]]:
    """Pods that may be targeted, and why every other pod was skipped.

    ``namespace`` (when given) is the experiment's namespace; a pod elsewhere is skipped even if a
    misbehaving API returned it.
    """
    ok: list[PodInfo] = []
    skipped: list[Skip] = []
    for pod in _ordered(pods):
        reason = _skip_reason(pod, selector, operator_pod_names, namespace)
        if reason is None:
            ok.append(pod)
        else:
            skipped.append(Skip(pod.name, reason))
    return ok, skipped


def _skip_reason(
    pod: PodInfo, selector: LabelSelector, operator_pod_names: frozenset[str], namespace: str | None
) -> str | None:
    if namespace is not None and pod.namespace != namespace:
        return f"in namespace {pod.namespace}, not {namespace}"
    if not matches(selector, pod.labels):
        return "labels do not match the selector"
    key, value = OPERATOR_LABEL
    if pod.name in operator_pod_names or pod.labels.get(key) == value:
        return "the operator's own pod"
    if pod.labels.get(HELPER_LABEL[0]) == HELPER_LABEL[1]:
        return "a chaos-operator helper pod"
    if pod.terminating:
        return "terminating"
    if not pod.ready:
        return f"not ready (phase {pod.phase})"
    return None


def describe_skips(skipped: Sequence[Skip], listed: int = 5) -> str:
    """``2 terminating, 1 not ready (phase Pending): web-1 (terminating), …`` — bounded in length."""
    counts = Counter(s.reason for s in skipped)
    summary = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
    names = ", ".join(str(s) for s in skipped[:listed])
    more = f" and {len(skipped) - listed} more" if len(skipped) > listed else ""
    return f"{summary}: {names}{more}" if skipped else "none skipped"


def choose(pods: Sequence[PodInfo], mode: Mode, value: int | None, seed: int) -> list[PodInfo]:
    """Pick targets from eligible pods; the same seed and pods give the same choice in any input order."""
    ordered = _ordered(pods)
    rng = random.Random(seed)
    count = target_count(len(ordered), mode, value, rng)
    return _ordered(rng.sample(ordered, count))


def target_count(n: int, mode: Mode, value: int | None, rng: random.Random) -> int:
    """How many of ``n`` eligible pods ``mode``/``value`` asks for (at least 1 when n > 0 and value >= 1)."""
    if n == 0:
        return 0
    if mode == "one":
        return 1
    if mode == "all":
        return n
    if value is None or value < 0:
        raise ValueError(f"mode {mode} needs a non-negative value")
    if mode == "fixed":
        return min(value, n)
    share = n * min(value, 100) // 100  # integer floor: no float rounding surprises at the bounds
    if mode == "fixedPercent":
        return max(1, share)
    if mode == "randomMaxPercent":
        return rng.randint(1, max(1, share))
    raise ValueError(f"unknown mode {mode}")


def new_seed() -> int:
    """A fresh seed, recorded in status so a run can be replayed."""
    return secrets.randbelow(SEED_LIMIT)


def _ordered(pods: Iterable[PodInfo]) -> list[PodInfo]:
    return sorted(pods, key=lambda p: (p.namespace, p.name, p.uid))
