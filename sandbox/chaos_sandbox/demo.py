"""`chaos-operator demo`: the real operator runs two PodKill experiments against the local sandbox.

The operator is installed as on a cluster, `helm install chaos helm/chaos-operator -n chaos-system
--create-namespace` with the real helm CLI, and runs as the chart's Deployment pod, a process on the sandbox's
node, with the chart's ServiceAccount under enforced RBAC (`helm_release.py`). Without root or helm v4 (`--operator
auto`, the default, says which) or with `--operator thread`, it runs in-process instead (`operator_thread.py`).

`web-kill-one` kills one of three replicas (expected: Passed); `solo-kill-only` kills the only replica
of a one-pod service (expected: Failed on maxErrorRate). Both run at once, about a minute in all; the
command prints phase changes and pod events as they happen, then each experiment's finished report, and ends
with `kubectl get cex` (real kubectl, if installed) as a cluster would show the experiments.
It exits 0 when the demo ran, whatever the verdicts; everything it started is stopped on the way out,
also on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any, TextIO

import yaml

from chaos_operator.cli.report.table import render
from chaos_operator.models.crd import load_crd
from chaos_sandbox import leftovers
from chaos_sandbox.cluster import DEMO_DIR, Sandbox
from chaos_sandbox.helm_release import NAMESPACE, RELEASE, HelmRelease, unavailable
from chaos_sandbox.operator_thread import OperatorThread

EXPERIMENTS = ("web-kill-one.yaml", "solo-kill-only.yaml")
DONE = ("Completed", "Failed", "Aborted")
NS = "demo"


class _Elapsed(logging.Formatter):
    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started

    def format(self, record: logging.LogRecord) -> str:
        return f"[{time.monotonic() - self.started:5.1f}s]   {record.getMessage()}"


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C (KeyboardInterrupt), so the same cleanup runs for both. SIGINT is set too: a
    process started in the background by a non-interactive shell inherits SIGINT ignored, and Python then
    installs no KeyboardInterrupt handler, so Ctrl-C (or `kill -INT`) would not stop the demo."""
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Cleanup must not be cut short by a second Ctrl-C or a SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _setup_logging(started: float, out: TextIO) -> None:
    handler = logging.StreamHandler(out)
    handler.setFormatter(_Elapsed(started))
    node = logging.getLogger("chaos_sandbox.node.node")
    node.setLevel(logging.INFO)
    node.addHandler(handler)
    node.propagate = False
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")


def _watch(sandbox: Sandbox, names: list[str], started: float, timeout: float, out: TextIO) -> dict[str, Any]:
    """Print each experiment's phase changes and kills until all are finished; returns the final objects."""
    seen: dict[str, tuple[str, int]] = {}
    objs: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in names:
            obj = sandbox.emu.get("chaosexperiments", NS, name) or {}
            status = obj.get("status") or {}
            state = (str(status.get("phase", "Pending")), len(status.get("injections") or []))
            if state != seen.get(name):
                phase = state[0]
                extra = {"Baseline": "measuring steady state under load", "Chaos": "fault on, load still running",
                         "Recovery": "fault over, measuring recovery", "Analyzing": "checking the SLOs"}.get(phase, "")
                if phase in DONE:
                    extra = f"verdict {status.get('verdict', '-')}: {status.get('message', '')}"
                elif state[1] != seen.get(name, ("", 0))[1]:
                    killed = ", ".join(r["target"] for r in status.get("injections", []))
                    extra = f"{extra}; killed {killed}" if extra else f"killed {killed}"
                print(f"[{time.monotonic() - started:5.1f}s] {name:<15} {phase:<9} {extra}", file=out, flush=True)
                seen[name] = state
            objs[name] = obj
        if all(seen.get(n, ("",))[0] in DONE for n in names):
            return objs
        time.sleep(0.25)
    raise TimeoutError(f"the experiments did not finish within {timeout:g}s")


def write_reports(objs: dict[str, Any], directory: pathlib.Path, out: TextIO) -> None:
    """Each finished experiment's HTML report and picture, as `chaos-operator report --html/--png` writes them."""
    from chaos_operator.cli.report.html import render_html
    from chaos_operator.cli.report.plot import PlottingUnavailable, png

    directory.mkdir(parents=True, exist_ok=True)
    for name, obj in objs.items():
        try:
            picture = png(obj)
        except PlottingUnavailable as exc:
            print(f"no report for {name}: {exc}", file=out)
            continue
        (directory / f"{name}.png").write_bytes(picture)
        (directory / f"{name}.html").write_text(render_html(obj, picture), encoding="utf-8")
        print(f"report: {(directory / f'{name}.html').resolve()}  picture: {(directory / f'{name}.png').resolve()}",
              file=out)


def kubectl_table(sandbox: Sandbox, out: TextIO) -> None:
    """`kubectl get cex` as a user would see it: real kubectl, given the sandbox's kubeconfig explicitly (never
    the user's own cluster), showing the CRD's printer columns the emulator serves as a server-side table."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("kubectl is not installed: skipping the `kubectl get cex` table.", file=out, flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="chaos-demo-kubectl-") as tmp:
        config = sandbox.write_kubeconfig(pathlib.Path(tmp) / "config", namespace=NS)
        argv = [kubectl, "--kubeconfig", str(config), "--cache-dir", str(pathlib.Path(tmp) / "cache"),
                "--request-timeout", "20s", "get", "cex", "-n", NS]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            print("kubectl get cex did not answer within 60s", file=out, flush=True)
            return
    print(f"$ kubectl --kubeconfig <the sandbox's> get cex -n {NS}", file=out)
    if done.returncode != 0:
        print(f"kubectl get cex failed (exit {done.returncode}): {done.stderr.strip()}", file=out, flush=True)
        return
    print(done.stdout, end="", file=out, flush=True)


def start_operator(sandbox: Sandbox, mode: str, started: float, out: TextIO) -> HelmRelease | OperatorThread:
    """The Helm-installed operator (mode helm, or auto where it can run), else the in-process one."""
    why = "--operator thread" if mode == "thread" else unavailable(sandbox)
    if why is None:
        assert sandbox.work_dir is not None
        release = HelmRelease(sandbox, sandbox.work_dir / "helm")
        print(f"$ helm install {RELEASE} helm/chaos-operator -n {NAMESPACE} --create-namespace   "
              f"({release.helm}, the sandbox's kubeconfig)", file=out, flush=True)
        release.install()
        pod = release.wait_leading()
        print(f"[{time.monotonic() - started:5.1f}s] operator: pod {NAMESPACE}/{pod} Ready and leading, a process "
              "on the node with the chart's ServiceAccount (RBAC enforced)", file=out, flush=True)
        return release
    if mode == "helm":
        raise RuntimeError(f"--operator helm: {why}")
    print(f"[{time.monotonic() - started:5.1f}s] operator: in-process ({why})", file=out, flush=True)
    sandbox.emu.register_crd(load_crd())  # the chart's job otherwise
    thread = OperatorThread(sandbox.url, sandbox.resolver)
    thread.start()
    return thread


def run_demo(network: str, start_delay: float, timeout: float, out: TextIO,
             phases: tuple[str, str, str] | None = None, reports: pathlib.Path | None = None,
             mode: str = "auto") -> int:
    started = time.monotonic()
    _setup_logging(started, out)
    print("chaos-operator demo: the real operator, a local sandbox cluster, real processes behind the pods",
          file=out, flush=True)
    sandbox = Sandbox(network=network, start_delay=start_delay, max_seconds=timeout + 120, authorization="RBAC",
                      crd=False)
    operator: HelmRelease | OperatorThread | None = None
    objs: dict[str, Any] = {}
    try:
        sandbox.start()
        print(f"[{time.monotonic() - started:5.1f}s] sandbox up at {sandbox.url} (run {sandbox.token}): "
              f"{sandbox.note}", file=out)
        sandbox.deploy_demo()
        print(f"[{time.monotonic() - started:5.1f}s] demo/web: 3 pods Ready, demo/solo: 1 pod Ready; "
              "each Service reached through its sandbox proxy", file=out)
        operator = start_operator(sandbox, mode, started, out)
        docs = [yaml.safe_load((DEMO_DIR / name).read_text()) for name in EXPERIMENTS]
        for doc in docs:
            if phases:
                doc["spec"]["phases"] = dict(zip(("baseline", "chaos", "recovery"), phases, strict=True))
        sandbox.apply(docs)
        names = [d["metadata"]["name"] for d in docs]
        ph = docs[0]["spec"]["phases"]
        print(f"[{time.monotonic() - started:5.1f}s] operator running; applied {', '.join(names)} ({ph['baseline']} "
              f"baseline, {ph['chaos']} chaos, {ph['recovery']} recovery, 50 req/s each)", file=out, flush=True)
        objs = _watch(sandbox, names, started, timeout, out)
        for obj in objs.values():
            print("\n" + render(obj), end="", file=out)
        if reports is not None and objs:
            print("", file=out)
            write_reports(objs, reports, out)
        print("", file=out)
        kubectl_table(sandbox, out)  # while the sandbox still serves them
        if isinstance(operator, HelmRelease):
            said = "\n".join(line for line in operator.uninstall().splitlines() if line.strip())
            print(f"$ helm uninstall {RELEASE} -n {NAMESPACE}\n{said}", file=out, flush=True)
    finally:
        with shielded():
            token = sandbox.token
            try:
                if isinstance(operator, OperatorThread):
                    operator.stop()  # the Helm-installed one stops with its pod, in sandbox.stop()
            finally:
                sandbox.stop()
    left = leftovers.scan(token)
    tail = "nothing left behind" if left.empty else f"LEFT BEHIND: {left.describe()}"
    print(f"\ndemo finished in {time.monotonic() - started:.1f}s; sandbox stopped, {tail}.", file=out, flush=True)
    return 0 if left.empty else 1


def main_demo(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos-operator demo", description=__doc__.split("\n")[0])
    parser.add_argument("--network", choices=["auto", "netns", "loopback"], default="auto",
                        help="pods in network namespaces (root) or on loopback ports (default: auto)")
    parser.add_argument("--start-delay", type=float, default=1.0, help="seconds before a new pod's process starts")
    parser.add_argument("--timeout", type=float, default=150.0, help="give up after this many seconds")
    parser.add_argument("--phases", default=None, metavar="B,C,R",
                        help="override the experiments' phases, e.g. 3s,5s,5s (default: as in examples/demo)")
    parser.add_argument("--reports", default="demo-reports", metavar="DIR",
                        help="write each experiment's HTML report and PNG here (default: ./demo-reports; '' for none)")
    parser.add_argument("--operator", choices=["auto", "helm", "thread"], default="auto",
                        help="installed with helm as the chart's pod (needs root and helm v4), in-process, or auto: "
                             "helm where it can run (default)")
    args = parser.parse_args(argv)
    parts = args.phases.split(",") if args.phases else []
    if args.phases and len(parts) != 3:
        parser.error("--phases takes three durations: baseline,chaos,recovery")
    phases = (parts[0], parts[1], parts[2]) if parts else None
    try:
        with stop_signals_raise():
            return run_demo(args.network, args.start_delay, args.timeout, sys.stdout, phases,
                            pathlib.Path(args.reports) if args.reports else None, args.operator)
    except KeyboardInterrupt:
        print("\ninterrupted; the sandbox and the operator were stopped.", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
