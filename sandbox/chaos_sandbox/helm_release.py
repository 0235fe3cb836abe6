"""The operator installed into the sandbox by the real `helm` CLI, as a user installs it on a cluster.

`helm install chaos helm/chaos-operator -n chaos-system --create-namespace` with Helm's defaults (server-side
apply, releases in Secrets) and the chart's own CRD; the node then runs the chart's Deployment pod as a process that
connects in-cluster with the chart's ServiceAccount token (node/incluster.py). That needs root (the pod's mount
namespace) and helm v4 (`make deps` puts one in .venv/bin): `unavailable()` says which is missing.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import time
from typing import Any

from chaos_sandbox.cluster import Sandbox

CHART = pathlib.Path(__file__).resolve().parents[2] / "helm" / "chaos-operator"
RELEASE, NAMESPACE = "chaos", "chaos-system"
OPERATOR_PODS = "app.kubernetes.io/component=operator"
LEASE = "chaos-operator-leader"  # chaos_operator.runtime.leader.rules.LEASE_NAME: the sandbox imports no operator


def find_helm() -> pathlib.Path | None:
    """The helm v4 binary beside this Python, else on PATH; None when there is none (or only an older one)."""
    beside = pathlib.Path(sys.executable).parent / "helm"
    found = beside if beside.exists() else (pathlib.Path(p) if (p := shutil.which("helm")) else None)
    if found is None:
        return None
    done = subprocess.run([str(found), "version", "--template", "{{.Version}}"], capture_output=True, text=True,
                          timeout=30, check=False)
    return found if done.stdout.startswith("v4.") else None


def unavailable(sandbox: Sandbox) -> str | None:
    """Why the Helm-installed operator cannot run in this (started) sandbox; None when it can."""
    if find_helm() is None:
        return "no helm v4 CLI (`make deps` installs one into .venv/bin)"
    if sandbox.node is None or sandbox.node.commands.api is None:
        return "the operator's pod connects in-cluster only when the sandbox runs as root"
    return None


def ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return not pod["metadata"].get("deletionTimestamp") and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class HelmRelease:
    """One release of the chart in a started sandbox, driven by the helm CLI with the sandbox's admin kubeconfig
    (passed explicitly: never the user's own cluster) and a HOME of its own."""

    def __init__(self, sandbox: Sandbox, home: pathlib.Path, *, helm: pathlib.Path | None = None,
                 release: str = RELEASE, namespace: str = NAMESPACE) -> None:
        found = helm or find_helm()
        if found is None:
            raise RuntimeError("no helm v4 CLI (`make deps` installs one into .venv/bin)")
        self.sandbox, self.helm, self.home = sandbox, found, home
        self.release, self.namespace = release, namespace
        home.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = sandbox.write_kubeconfig(home / "kubeconfig", namespace=namespace)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        argv = [str(self.helm), "--kubeconfig", str(self.kubeconfig), *args]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home)}
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env)

    def __call__(self, *args: str) -> str:
        done = self.run(*args)
        if done.returncode != 0:
            raise RuntimeError(f"helm {' '.join(args)} failed (exit {done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def install(self, *extra: str, chart: pathlib.Path = CHART) -> str:
        return self("install", self.release, str(chart), "-n", self.namespace, "--create-namespace", *extra)

    def uninstall(self) -> str:
        return self("uninstall", self.release, "-n", self.namespace)

    def operator_pods(self) -> list[dict[str, Any]]:
        return [p for p in self.sandbox.emu.list("pods", self.namespace, label_selector=OPERATOR_PODS)
                if not p["metadata"].get("deletionTimestamp")]

    def leader(self) -> str | None:
        """The pod whose operator holds the Lease (identities are `<pod name>_<random>`)."""
        lease = self.sandbox.emu.get("leases", self.namespace, LEASE)
        holder = str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")
        return holder.rpartition("_")[0] or None

    def leading(self) -> str | None:
        """The operator pod that is Ready and holds the Lease (so it runs experiments), if one does."""
        who = self.leader()
        return who if who in {p["metadata"]["name"] for p in self.operator_pods() if ready(p)} else None

    def wait_leading(self, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            if (who := self.leading()) is not None:
                return who
            if time.monotonic() > deadline:
                raise TimeoutError(f"no Ready operator pod held the Lease after {timeout:g}s: {self.pod_log()}")
            time.sleep(0.1)

    def pod_log(self, chars: int = 2000) -> str:
        """The end of each operator pod's log (the node writes them into the sandbox's work directory)."""
        work = self.sandbox.work_dir
        logs = sorted((work / "pods").glob(f"{self.namespace}_*.log")) if work is not None else []
        return "\n".join(f"{p.name}: {p.read_text(errors='replace')[-chars:]}" for p in logs) or "no pod log"
