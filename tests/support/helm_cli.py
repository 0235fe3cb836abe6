"""The real `helm` CLI for tests (v4, installed by `make deps` with tools/install_helm.py into .venv/bin), always
with an explicit kubeconfig, a HOME of its own and nothing else of this machine's environment."""

from __future__ import annotations

import pathlib
import subprocess
import time

from chaos_sandbox.helm_release import find_helm

__all__ = ["INSTALL_HINT", "Helm", "find_helm"]

INSTALL_HINT = "run `make deps` (tools/install_helm.py installs it into .venv/bin)"
# The release the chart tests install: its namespace, name, CRD and Deployment.
NS, RELEASE = "chaos-system", "chaos"
CRD = "chaosexperiments.chaosoperator.dev"
DEPLOY = f"deploy/{RELEASE}-chaos-operator"


class Helm:
    """helm ARGS against one kubeconfig; `durations` keeps how long each command took, by its first word."""

    def __init__(self, binary: pathlib.Path, kubeconfig: pathlib.Path, home: pathlib.Path) -> None:
        self.binary, self.kubeconfig, self.home = binary, kubeconfig, home
        self.durations: list[tuple[str, float]] = []

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.binary), "--kubeconfig", str(self.kubeconfig), *args]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home), "KUBECONFIG": str(self.kubeconfig)}
        started = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=env)
        self.durations.append((args[0], time.monotonic() - started))
        return done

    def __call__(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"helm {' '.join(args)}: {done.stderr}"
        return done.stdout
