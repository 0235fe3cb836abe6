"""The real kubectl for tests, always pointed at one kubeconfig (the emulator's or the sandbox's) and a HOME of its
own: a kubectl with no kubeconfig would dial localhost:8080, which is not ours."""

from __future__ import annotations

import json
import pathlib
import subprocess
from typing import Any

import yaml


def run(kubeconfig: pathlib.Path, *args: str, home: pathlib.Path | None = None) -> subprocess.CompletedProcess[str]:
    """kubectl ARGS against `kubeconfig`; the result, whatever its exit code."""
    argv = ["kubectl", "--kubeconfig", str(kubeconfig), "--request-timeout=20s", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home or kubeconfig.parent)})


class Kubectl:
    """kubectl calls that must succeed: their stdout, or the test fails with kubectl's stderr."""

    def __init__(self, kubeconfig: pathlib.Path, home: pathlib.Path) -> None:
        self.kubeconfig, self.home = kubeconfig, home

    def __call__(self, *args: str) -> str:
        done = run(self.kubeconfig, *args, home=self.home)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json"))

    def apply(self, *objects: dict[str, Any]) -> str:
        path = self.home / "manifests.yaml"
        path.write_text(yaml.safe_dump_all(objects))
        return self("apply", "-f", str(path))


def kubectl_in(emulator: Any, tmp_path: pathlib.Path, namespace: str) -> Kubectl:
    """kubectl against ``emulator`` (an EmulatorThread) with its own kubeconfig, ``namespace`` created."""
    emulator.create("namespaces", {"metadata": {"name": namespace}})
    return Kubectl(emulator.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path)
