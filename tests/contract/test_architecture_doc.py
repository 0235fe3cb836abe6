"""docs/architecture.md cannot rot silently: every path and module it names in backticks exists.

A path is resolved from the repository root, or from `chaos_operator/` (the page writes `engine/runner.py` for
`chaos_operator/engine/runner.py`); a dotted `chaos_operator.…` / `chaos_sandbox.…` name must be a module.
"""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
FENCED = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
TICKED = re.compile(r"`([^`\n]+)`")
FILE_LIKE = re.compile(r"\.(py|md|yaml|yml|toml|json|sh|png|importlinter)$")
MODULE = re.compile(r"^(chaos_operator|chaos_sandbox)(\.\w+)+$")
PACKAGE_ROOTS = {"chaos_operator": ROOT / "chaos_operator", "chaos_sandbox": ROOT / "sandbox" / "chaos_sandbox"}


def named() -> tuple[list[str], list[str]]:
    """(paths, dotted modules) in backticks outside code blocks."""
    text = FENCED.sub("", DOC.read_text())
    paths, modules = [], []
    for token in TICKED.findall(text):
        if any(c.isspace() for c in token) or token.startswith("/") or "=" in token or "://" in token:
            continue
        if MODULE.match(token):
            modules.append(token)
        elif "/" in token or FILE_LIKE.search(token):
            paths.append(token)
    return paths, modules


def exists(path: str) -> bool:
    for base in (ROOT, ROOT / "chaos_operator"):
        if "*" in path:
            if any(base.glob(path)):
                return True
        elif (base / path).exists():
            return True
    return False


def module_exists(dotted: str) -> bool:
    top, *rest = dotted.split(".")
    where = PACKAGE_ROOTS[top].joinpath(*rest)
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def test_every_named_path_exists() -> None:
    paths, _ = named()
    assert len(paths) > 50, "the page names its files in backticks; did the pattern stop matching?"
    missing = sorted({p for p in paths if not exists(p)})
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_named_module_exists() -> None:
    _, modules = named()
    missing = sorted({m for m in modules if not module_exists(m)})
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_readme_links_the_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "(docs/architecture.md)" in readme
    assert not re.search(r"\]\(\.\./", readme), "README links outside the repository"
