"""Shared fixtures of the contract tests: the examples, path-based mutations, and path assertions."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from chaos_operator.cli.validate.document import Problem, load_documents

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "chaosoperator.dev_chaosexperiments.yaml"
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
BASE_EXAMPLE = REPO / "examples" / "pod-kill.yaml"

Key = str | int
Mutation = Callable[[dict[str, Any]], None]


def load_yaml(path: Path) -> list[Any]:
    return load_documents(path.read_text(encoding="utf-8"))


def base_manifest() -> dict[str, Any]:
    doc = load_yaml(BASE_EXAMPLE)[0]
    assert isinstance(doc, dict)
    return copy.deepcopy(doc)


def keys(path: str | tuple[Key, ...]) -> tuple[Key, ...]:
    """``spec.prometheus.queries.0.max`` -> ("spec", "prometheus", "queries", 0, "max")."""
    if isinstance(path, tuple):
        return path
    return tuple(int(part) if part.isdigit() else part for part in path.split("."))


def _parent(doc: dict[str, Any], path: tuple[Key, ...]) -> Any:
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    return node


def set_(path: str | tuple[Key, ...], value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        parts = keys(path)
        _parent(doc, parts)[parts[-1]] = copy.deepcopy(value)
    return mutate


def drop(path: str | tuple[Key, ...]) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        parts = keys(path)
        del _parent(doc, parts)[parts[-1]]
    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(doc)
    return mutate


def mutated(mutation: Mutation) -> dict[str, Any]:
    doc = base_manifest()
    mutation(doc)
    return doc


def names_field(problems: Iterable[Problem], path: str) -> bool:
    """Whether some problem is about ``path`` itself or a part of it (``path.x``, ``path[0]``)."""
    return any(p.path == path or p.path.startswith((path + ".", path + "[")) for p in problems)
