"""The built operator image, inspected with buildah (`make image-test` builds it first, then runs this).

Runs the image's own commands in a working container (buildah run, chroot isolation) and reads its
filesystem: the operator and agent CLIs answer, the agent's four tools are there, it runs as 10001, and no
sandbox or kmock code is in it.
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator

import pytest

IMAGE = os.environ.get("CHAOS_IMAGE", "")
LOCK = pathlib.Path(__file__).parents[2] / "packaging" / "image-requirements.txt"
BUILDAH = ["buildah", *shlex.split(os.environ.get("CHAOS_BUILDAH_OPTS", ""))]

pytestmark = pytest.mark.skipif(not IMAGE or shutil.which("buildah") is None,
                                reason="needs a built image: run `make image-test` (buildah, debootstrap)")


def buildah(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BUILDAH, *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def container() -> Iterator[str]:
    made = buildah("from", "--pull-never", IMAGE)
    assert made.returncode == 0, made.stderr
    name = made.stdout.strip().splitlines()[-1]
    try:
        yield name
    finally:
        buildah("rm", name)


def run(container: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """A command in the image as its configured user (USER). Chroot isolation shares the host's network (it
    has no other); these commands only print."""
    return buildah("run", "--isolation", "chroot", container, "--", *argv)


def test_operator_and_agent_command_lines_answer(container: str) -> None:
    operator = run(container, "chaos-operator", "--help")
    assert operator.returncode == 0 and "run the operator" in operator.stdout, operator.stderr
    agent = run(container, "python", "-m", "chaos_operator.agent", "--help")
    assert agent.returncode == 0 and "usage" in agent.stdout.lower(), agent.stderr


@pytest.mark.parametrize("argv", [["tc", "-V"], ["ip", "-V"], ["nsenter", "--version"], ["stress-ng", "--version"]])
def test_the_agents_tools_are_there(container: str, argv: list[str]) -> None:
    result = run(container, *argv)
    assert result.returncode == 0, result.stderr


def test_runs_as_uid_10001(container: str) -> None:
    config = buildah("inspect", "--type", "image", "--format", "{{.OCIv1.Config.User}}", IMAGE)
    assert config.stdout.strip() == "10001:10001"
    assert run(container, "id", "-u").stdout.strip() == "10001"
    entrypoint = buildah("inspect", "--type", "image", "--format", "{{.OCIv1.Config.Entrypoint}}", IMAGE)
    assert entrypoint.stdout.strip() == "[chaos-operator]"


def test_no_sandbox_or_kmock_in_the_image(container: str) -> None:
    probe = ("import importlib.util, sys; "
             "sys.exit(sum(importlib.util.find_spec(m) is not None for m in ('chaos_sandbox', 'kmock')))")
    assert run(container, "python", "-c", probe).returncode == 0
    mount = buildah("mount", container)
    assert mount.returncode == 0, mount.stderr
    root = mount.stdout.strip()
    try:
        found = [os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files
                 if n.startswith(("chaos_sandbox", "kmock"))]
    finally:
        buildah("umount", container)
    assert found == []


def test_installed_python_packages_are_exactly_the_locked_versions(container: str) -> None:
    """The Dockerfile installed from packaging/image-requirements.txt with --require-hashes: every locked pin is
    in the image at its locked version."""
    locked = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^ ]+) \\$", LOCK.read_text(), re.MULTILINE))
    frozen = run(container, "python", "-m", "pip", "list", "--format=freeze")
    assert frozen.returncode == 0, frozen.stderr
    installed = {name.lower().replace("_", "-"): version for name, version in
                 (line.split("==", 1) for line in frozen.stdout.splitlines() if "==" in line)}
    wrong = {name: (version, installed.get(name.lower())) for name, version in locked.items()
             if installed.get(name.lower()) != version}
    assert wrong == {}, wrong
