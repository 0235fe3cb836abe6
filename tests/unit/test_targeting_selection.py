import random
import re

import pytest

from chaos_operator.models.spec import LabelSelector, Mode
from chaos_operator.targeting.pods import PodInfo
from chaos_operator.targeting.selection import (
    PROTECTED_NAMESPACES,
    SEED_LIMIT,
    NamespaceRefused,
    NoTargets,
    Skip,
    check_namespace,
    choose,
    eligible,
    new_seed,
)

WEB = LabelSelector.model_validate({"matchLabels": {"app": "web"}})


def _pod(name: str, ready: bool = True, terminating: bool = False, namespace: str = "shop",
         labels: dict[str, str] | None = None, phase: str = "Running") -> PodInfo:
    return PodInfo(name=name, namespace=namespace, uid=f"uid-{name}", labels=labels or {"app": "web"},
                   phase=phase, ready=ready, terminating=terminating)


def _pods(n: int) -> list[PodInfo]:
    return [_pod(f"web-{i:02d}") for i in range(n)]


# --- namespaces ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("namespace", "allowed", "refused"), [
    ("kube-system", None, "protected"),
    ("kube-public", None, "protected"),
    ("kube-node-lease", None, "protected"),
    ("kube-system", frozenset({"kube-system"}), "protected"),  # an allow-list cannot unprotect
    ("chaos-system", None, "operator's own"),
    ("chaos-system", frozenset({"chaos-system"}), "operator's own"),
    ("shop", frozenset({"payments"}), "not in the allowed namespaces (payments)"),
    ("shop", None, None),
    ("shop", frozenset(), None),  # an empty allow-list means no restriction
    ("shop", frozenset({"shop", "payments"}), None),
])
def test_check_namespace(namespace: str, allowed: frozenset[str] | None, refused: str | None) -> None:
    if refused is None:
        check_namespace(namespace, "chaos-system", allowed)
        return
    with pytest.raises(NamespaceRefused, match=re.escape(refused)):
        check_namespace(namespace, "chaos-system", allowed)


def test_installation_protected_namespaces() -> None:
    """`--protect-namespace billing`: refused even when the allow-list names it."""
    with pytest.raises(NamespaceRefused, match="protected by the operator's configuration"):
        check_namespace("billing", "chaos-system", frozenset({"billing"}), frozenset({"billing"}))
    check_namespace("shop", "chaos-system", None, frozenset({"billing"}))


def test_protected_namespaces() -> None:
    assert {"kube-system", "kube-public", "kube-node-lease"} == PROTECTED_NAMESPACES


# --- eligibility --------------------------------------------------------------------------------

@pytest.mark.parametrize(("pod", "reason"), [
    (_pod("ok"), None),
    (_pod("other", labels={"app": "db"}), "labels do not match the selector"),
    (_pod("dying", terminating=True), "terminating"),
    (_pod("starting", ready=False, phase="Pending"), "not ready (phase Pending)"),
    (_pod("unready", ready=False), "not ready (phase Running)"),
    (_pod("chaos-operator-5d8-abc"), "the operator's own pod"),
    (_pod("op", labels={"app": "web", "app.kubernetes.io/name": "chaos-operator"}), "the operator's own pod"),
    (_pod("elsewhere", namespace="payments"), "in namespace payments, not shop"),
])
def test_eligible_reasons(pod: PodInfo, reason: str | None) -> None:
    ok, skipped = eligible([pod], WEB, frozenset({"chaos-operator-5d8-abc"}), namespace="shop")
    if reason is None:
        assert (ok, skipped) == ([pod], [])
    else:
        assert (ok, skipped) == ([], [Skip(pod.name, reason)])


def test_eligible_mixed_and_sorted() -> None:
    pods = [_pod("c"), _pod("a", terminating=True), _pod("b"), _pod("d", ready=False)]
    ok, skipped = eligible(pods, WEB, frozenset())
    assert [p.name for p in ok] == ["b", "c"]
    assert [str(s) for s in skipped] == ["a (terminating)", "d (not ready (phase Running))"]


def test_eligible_without_namespace_keeps_any_namespace() -> None:
    ok, _ = eligible([_pod("x", namespace="payments")], WEB, frozenset())
    assert [p.name for p in ok] == ["x"]


@pytest.mark.parametrize(("matched", "skipped", "expected"), [
    (0, [], "no pod in the namespace matches the selector"),
    (2, [Skip("a", "terminating"), Skip("b", "terminating")],
     "2 pods match the selector but none is eligible: 2 terminating: a (terminating), b (terminating)"),
    (7, [Skip(f"p{i}", "not ready (phase Pending)") for i in range(7)],
     "7 pods match the selector but none is eligible: 7 not ready (phase Pending): "
     "p0 (not ready (phase Pending)), p1 (not ready (phase Pending)), p2 (not ready (phase Pending)), "
     "p3 (not ready (phase Pending)), p4 (not ready (phase Pending)) and 2 more"),
])
def test_no_targets_message(matched: int, skipped: list[Skip], expected: str) -> None:
    assert str(NoTargets.for_pods(matched, skipped)) == expected


# --- choosing -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "value", "n", "count"), [
    ("one", None, 0, 0), ("one", None, 1, 1), ("one", None, 3, 1), ("one", None, 10, 1),
    ("all", None, 0, 0), ("all", None, 1, 1), ("all", None, 3, 3), ("all", None, 10, 10),
    ("fixed", 1, 0, 0), ("fixed", 1, 1, 1), ("fixed", 1, 3, 1), ("fixed", 1, 10, 1),
    ("fixed", 3, 1, 1), ("fixed", 3, 3, 3), ("fixed", 3, 10, 3), ("fixed", 1000, 10, 10),
    ("fixedPercent", 1, 0, 0), ("fixedPercent", 1, 1, 1), ("fixedPercent", 1, 3, 1), ("fixedPercent", 1, 10, 1),
    ("fixedPercent", 34, 3, 1), ("fixedPercent", 67, 3, 2), ("fixedPercent", 50, 10, 5),
    ("fixedPercent", 99, 10, 9), ("fixedPercent", 100, 1, 1), ("fixedPercent", 100, 3, 3),
    ("fixedPercent", 100, 10, 10),
    ("randomMaxPercent", 1, 0, 0), ("randomMaxPercent", 1, 1, 1), ("randomMaxPercent", 1, 3, 1),
    ("randomMaxPercent", 1, 10, 1), ("randomMaxPercent", 10, 10, 1), ("randomMaxPercent", 33, 3, 1),
])
def test_choose_count(mode: Mode, value: int | None, n: int, count: int) -> None:
    for seed in range(20):
        assert len(choose(_pods(n), mode, value, seed)) == count


@pytest.mark.parametrize(("value", "n", "high"), [(100, 3, 3), (50, 10, 5), (100, 10, 10), (67, 3, 2)])
def test_random_max_percent_covers_its_range(value: int, n: int, high: int) -> None:
    counts = {len(choose(_pods(n), "randomMaxPercent", value, seed)) for seed in range(300)}
    assert counts == set(range(1, high + 1))


@pytest.mark.parametrize(("mode", "value"), [
    ("one", None), ("all", None), ("fixed", 4), ("fixedPercent", 30), ("randomMaxPercent", 80)])
def test_choose_is_deterministic_and_order_independent(mode: Mode, value: int | None) -> None:
    pods = _pods(10)
    for seed in (0, 1, 42, 2**53 - 1):
        first = choose(pods, mode, value, seed)
        shuffled = pods[:]
        random.Random(seed).shuffle(shuffled)
        assert choose(shuffled, mode, value, seed) == first
        assert choose(list(reversed(pods)), mode, value, seed) == first
        assert [p.name for p in first] == sorted(p.name for p in first)
        assert len({p.uid for p in first}) == len(first)  # never the same pod twice


def test_different_seeds_pick_different_pods() -> None:
    choices = {tuple(p.name for p in choose(_pods(10), "fixed", 2, seed)) for seed in range(50)}
    assert len(choices) > 10


def test_choose_only_returns_given_pods() -> None:
    pods = _pods(3)
    assert choose(pods, "all", None, 7) == pods


@pytest.mark.parametrize("mode", ["fixed", "fixedPercent", "randomMaxPercent"])
def test_choose_needs_value(mode: Mode) -> None:
    with pytest.raises(ValueError, match="needs a non-negative value"):
        choose(_pods(3), mode, None, 1)


def test_new_seed() -> None:
    seeds = {new_seed() for _ in range(20)}
    assert all(0 <= s < SEED_LIMIT == 2**53 for s in seeds)
    assert len(seeds) > 1
