"""Label selectors: the server-side query string and the exact client-side match.

The query narrows what the API server returns; ``matches`` re-checks every pod with Kubernetes
semantics so a lax or buggy server-side filter can never widen the blast radius.
"""

from __future__ import annotations

from collections.abc import Mapping

from chaos_operator.models.spec import LabelSelector, SelectorRequirement


def to_query(sel: LabelSelector) -> str:
    """``a=b,c in (x,y),d notin (z),e,!f``: matchLabels sorted by key, then the expressions in order."""
    parts = [f"{key}={value}" for key, value in sorted((sel.match_labels or {}).items())]
    parts.extend(_requirement_query(req) for req in sel.match_expressions or [])
    return ",".join(parts)


def _requirement_query(req: SelectorRequirement) -> str:
    values = ",".join(sorted(set(req.values)))  # sorted so the same selector always renders the same
    if req.operator == "In":
        return f"{req.key} in ({values})"
    if req.operator == "NotIn":
        return f"{req.key} notin ({values})"
    if req.operator == "Exists":
        return req.key
    return f"!{req.key}"


def matches(sel: LabelSelector, labels: Mapping[str, str]) -> bool:
    """True when every matchLabels pair and every expression holds for ``labels``."""
    for key, value in (sel.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    return all(_requirement_holds(req, labels) for req in sel.match_expressions or [])


def _requirement_holds(req: SelectorRequirement, labels: Mapping[str, str]) -> bool:
    present = req.key in labels
    if req.operator == "In":
        return present and labels[req.key] in req.values
    if req.operator == "NotIn":
        # Kubernetes: NotIn also matches pods that do not carry the key at all.
        return not present or labels[req.key] not in req.values
    if req.operator == "Exists":
        return present
    return not present
