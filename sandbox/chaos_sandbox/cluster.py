"""`Sandbox`: the local stand-in for a small cluster that the demo and the end-to-end tests use.

The API emulator (real HTTP on 127.0.0.1, kubectl works against it) with the ChaosExperiment CRD, plus
one node (`node/node.py`) whose pods are real processes, in their own network namespaces and cgroups when root and
on loopback ports otherwise. As root, the operator's helper and stress pods (image `OPERATOR_IMAGE`, which
`OperatorThread` configures) run the real agent. A test and demo device, never a production path.
"""

from __future__ import annotations

import datetime
import logging
import os
import pathlib
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import yaml

from chaos_operator.models.crd import load_crd
from chaos_sandbox import runs
from chaos_sandbox.emulator import Emulator, EmulatorThread
from chaos_sandbox.emulator.patching import MERGE_PATCH
from chaos_sandbox.emulator.resources import ApiError
from chaos_sandbox.emulator.store import Obj
from chaos_sandbox.node import cgroups, limits
from chaos_sandbox.node.controllers import pod_ready, terminating
from chaos_sandbox.node.incluster import ApiEndpoint
from chaos_sandbox.node.node import Node
from chaos_sandbox.node.podnet import RunNet, netns_supported
from chaos_sandbox.node.proxy import SandboxResolver

log = logging.getLogger(__name__)
DEMO_DIR = pathlib.Path(__file__).resolve().parents[2] / "examples" / "demo"
BASE_NAMESPACES = ("default", "chaos-system")


def node_cpus() -> frozenset[int] | None:
    """The node's CPUs: the last one this process may use, when it may use more than one. Pods (and the stress
    workers of a CPU fault) share that CPU, as they share a node's; the API server, the operator and its load
    generator run on the others, as a control plane and a client would run elsewhere."""
    cpus = sorted(os.sched_getaffinity(0))
    return frozenset(cpus[-1:]) if len(cpus) > 1 else None


class Sandbox:
    def __init__(self, *, network: str = "auto", start_delay: float = 1.0, max_seconds: float = 3600.0,
                 work_dir: pathlib.Path | None = None, authorization: str = "AlwaysAllow", crd: bool = True) -> None:
        if network not in ("auto", "netns", "loopback"):
            raise ValueError(f"network must be auto, netns or loopback, not {network!r}")
        supported, why = netns_supported()
        if network == "netns" and not supported:
            raise RuntimeError(f"network namespaces are not available: {why}")
        self.mode = "netns" if supported and network != "loopback" else "loopback"
        self.note = ("each pod in its own network namespace, reached through its veth" if self.mode == "netns"
                     else f"pods on 127.0.0.1 ports ({why or 'loopback requested'}): no network namespaces")
        self.start_delay, self.max_seconds = start_delay, max_seconds
        self.crd = crd  # False: the CRD is the chart's to install (helm_release.py); Helm will not adopt ours
        self._own_dir = work_dir is None
        self.work_dir = work_dir  # pod logs; a temporary directory (removed on stop) when not given
        # "RBAC" for `sandbox up` (docs/sandbox.md); the demo and tests keep AlwaysAllow unless they ask.
        # HTTPS as well (emulator/tls.py): operator-image pods reach it in-cluster (node/incluster.py)
        self.emu = EmulatorThread(Emulator(authorization=authorization), timeout=30.0, tls=True)
        self.net = RunNet() if self.mode == "netns" else None
        self.token = self.net.token if self.net else RunNet().token
        # Own cgroups with own network namespaces: both need root, and agent pods need both.
        base = cgroups.hierarchy() if self.net is not None and cgroups.supported()[0] else None
        self.cgroups = cgroups.RunCgroups(self.token, base, limits.bases()) if base is not None else None
        self.node_cpus = node_cpus()
        self.node: Node | None = None

    # ---- lifecycle ----
    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        if self.mode == "loopback":
            log.warning("sandbox: %s", self.note)
        try:
            self.emu.start()
            if self.crd:
                self.emu.register_crd(load_crd())
            for ns in BASE_NAMESPACES:
                self.ensure_namespace(ns)
            if self.net is not None:
                self.emu.run(self.net.open(), timeout=30)  # registers the run first
            if self.cgroups is not None:
                # Where its cpu/memory trees are (below this process's own cgroups): for `sandbox down` after a crash.
                runs.register(self.token, cgroup_trees=[str(root) for root in self.cgroups.roots()[1:]])
                self.cgroups.open()
            if self.work_dir is None:
                self.work_dir = pathlib.Path(tempfile.mkdtemp(prefix="chaos-sandbox-work-"))
            logs = self.work_dir / "pods"
            logs.mkdir(exist_ok=True)
            self.node = Node(self.emu.emulator, token=self.token, net=self.net, start_delay=self.start_delay,
                             max_seconds=self.max_seconds, log_dir=logs, cgroups=self.cgroups,
                             cpus=self.node_cpus, api_url=self.emu.url, api_tls=self._api_tls())
            self.emu.run(self.node.start())
        except BaseException:
            self.stop()
            raise

    def _api_tls(self) -> ApiEndpoint | None:
        """The HTTPS endpoint for in-cluster pods; None unless root (their mount namespace needs it)."""
        cert = self.emu.serving_cert
        if cert is None or os.geteuid() != 0 or shutil.which("unshare") is None:
            return None
        return ApiEndpoint("127.0.0.1", self.emu.https_port, cert.ca_pem)

    def stop(self) -> None:
        """Stop every pod process, remove every cgroup, network namespace and veth, then the API server. Idempotent."""
        try:
            if self.emu.loop is not None and self.emu.loop.is_running():
                if self.node is not None:
                    self.emu.run(self.node.stop(), timeout=60)
                if self.cgroups is not None and not self.emu.run(self.cgroups.close(), timeout=30):
                    log.warning("sandbox: cgroup tree %s could not be removed", self.cgroups.root)
                if self.net is not None:
                    self.emu.run(self.net.close(), timeout=60)
        finally:
            self.node = None
            self.emu.stop()
            if self._own_dir and self.work_dir is not None:
                shutil.rmtree(self.work_dir, ignore_errors=True)
                self.work_dir = None

    # ---- access ----
    @property
    def url(self) -> str:
        return self.emu.url

    @property
    def resolver(self) -> SandboxResolver:
        assert self.node is not None, "the sandbox is not running"
        return self.node.resolver

    def advance_clock(self, seconds: float) -> None:
        """Move the Job and CronJob controllers' clock forward (node/clock.py): a schedule fires without waiting."""
        node = self.node
        assert node is not None, "the sandbox is not running"
        self.emu.call(node.advance_clock, seconds)

    def controller_time(self) -> datetime.datetime:
        """Now, on the Job and CronJob controllers' clock."""
        assert self.node is not None, "the sandbox is not running"
        return self.node.clock.now()

    def write_kubeconfig(self, path: pathlib.Path, namespace: str = "demo") -> pathlib.Path:
        return self.emu.write_kubeconfig(path, namespace)

    def ensure_namespace(self, name: str) -> None:
        if self.emu.get("namespaces", None, name) is None:
            self.emu.create("namespaces", {"metadata": {"name": name}})

    def apply(self, docs: Iterable[Mapping[str, Any]]) -> list[Obj]:
        """Create each object, or merge its spec into the existing one (a small `kubectl apply`)."""
        return [self.emu.call(self._apply_one, dict(doc)) for doc in docs]

    def _apply_one(self, doc: Obj) -> Obj:  # on the emulator's loop
        emulator = self.emu.emulator
        group, _, version = str(doc.get("apiVersion", "")).rpartition("/")
        found = [res for res, info in emulator.entries()
                 if (res.group or "") == group and res.version == version and info.kind == doc.get("kind")]
        if not found:
            raise ValueError(f"the sandbox does not serve {doc.get('apiVersion')} {doc.get('kind')}")
        rtype = emulator.resource_type(found[0])
        meta = doc.get("metadata") or {}
        ns = meta.get("namespace") or ("default" if rtype.namespaced else None)
        if ns and not any(n["metadata"]["name"] == ns for n in emulator.store.list(emulator.find("namespaces"), None)):
            emulator.store.create(emulator.find("namespaces"), None, {"metadata": {"name": ns}})
        try:
            return emulator.store.create(rtype, ns, doc)
        except ApiError as exc:
            if exc.status != 409:
                raise
        patch = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata", "status")}
        return emulator.store.patch(rtype, ns, meta["name"], patch, MERGE_PATCH)

    def apply_file(self, path: pathlib.Path) -> list[Obj]:
        return self.apply(doc for doc in yaml.safe_load_all(path.read_text()) if doc)

    def pods(self, namespace: str, app: str, ready_only: bool = False) -> list[Obj]:
        """Pods labelled `app`: the Ready ones, or all that are neither terminating nor finished (Failed)."""
        pods = self.emu.list("pods", namespace, label_selector=f"app={app}")
        return [p for p in pods if (pod_ready(p) if ready_only else not terminating(p)
                                    and (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded"))]

    def pod_pid(self, namespace: str, name: str) -> int | None:
        """The pid of a pod's process, while it has one (tests signal it directly)."""
        node = self.node
        assert node is not None, "the sandbox is not running"

        def find() -> int | None:
            return next((slot.proc.pid for slot in node.slots.values()
                         if (slot.namespace, slot.name) == (namespace, name) and slot.proc is not None), None)
        return self.emu.call(find)

    def pod_netns(self, namespace: str, name: str) -> str | None:
        """The network namespace of a pod's process, while it has one (tests look at its qdiscs)."""
        node = self.node
        assert node is not None, "the sandbox is not running"

        def find() -> str | None:
            return next((slot.net.netns for slot in node.slots.values()
                         if (slot.namespace, slot.name) == (namespace, name) and slot.net is not None), None)
        return self.emu.call(find)

    def wait_ready(self, namespace: str, app: str, count: int, timeout: float = 30.0) -> list[Obj]:
        deadline = time.monotonic() + timeout
        while True:
            ready = self.pods(namespace, app, ready_only=True)
            if len(ready) == count and len(self.pods(namespace, app)) == count:
                return ready
            if time.monotonic() > deadline:
                raise TimeoutError(f"{namespace}/{app}: {len(ready)} of {count} pods Ready after {timeout:g}s")
            time.sleep(0.1)

    def deploy_demo(self, timeout: float = 30.0) -> None:
        """The demo workloads from examples/demo/workloads.yaml, waited for until every pod is Ready."""
        self.apply_file(DEMO_DIR / "workloads.yaml")
        self.wait_ready("demo", "web", 3, timeout)
        self.wait_ready("demo", "solo", 1, timeout)
