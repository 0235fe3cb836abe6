"""The real `helm` CLI for tests (v4, installed by `make deps` with tools/install_helm.py into .venv/bin), always
with an explicit kubeconfig, a HOME of its own and nothing else of this machine's environment."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import time

INSTALL_HINT = "run `make deps` (tools/install_helm.py installs it into .venv/bin)"


def find_helm() -> pathlib.Path | None:
    """The helm v4 binary beside this Python, else on PATH; None when there is none (or only an older one)."""
    beside = pathlib.Path(sys.executable).parent / "helm"
    found = beside if beside.exists() else (pathlib.Path(p) if (p := shutil.which("helm")) else None)
    if found is None:
        return None
    done = subprocess.run([str(found), "version", "--template", "{{.Version}}"], capture_output=True, text=True,
                          timeout=30, check=False)
    return found if done.stdout.startswith("v4.") else None


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
