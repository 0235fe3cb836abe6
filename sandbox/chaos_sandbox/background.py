"""`chaos-operator sandbox up|down|status`: the sandbox as a background process to point kubectl at.

`up` starts `python -m chaos_sandbox serve` detached, with a private state directory holding
`state.json` (pid, url, mode), `kubeconfig`, `serve.log` and the pods' logs; that process runs the
sandbox, the demo workloads and the real operator until `down` (SIGTERM), or for at most `--hours`. With `--helm`
that operator is the chart's, installed with the real helm CLI (`helm_release.py`), instead of an in-process one.
`down` stops it, removes what any crashed run left behind, and checks that nothing of ours is left.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from chaos_sandbox import leftovers, runs
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.helm_release import NAMESPACE, RELEASE, HelmRelease, find_helm, unavailable
from chaos_sandbox.operator_thread import OperatorThread
from chaos_sandbox.users import add_restricted_user

UP_TIMEOUT_S = 120.0  # helm install and the operator pod Ready included
DOWN_TIMEOUT_S = 30.0


def default_state_dir() -> pathlib.Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = pathlib.Path(runtime) / "chaos-sandbox" if runtime else pathlib.Path(f"/tmp/chaos-sandbox-{os.geteuid()}")
    return base / "up"


def _private_state_dir(path: pathlib.Path) -> pathlib.Path:
    runs.private_dir(path.parent)  # a parent someone else owns could swap our directory out
    return runs.private_dir(path)


def read_state(state_dir: pathlib.Path) -> dict[str, Any] | None:
    """The running sandbox's state, or None when there is none (or its process is gone)."""
    try:
        state = json.loads((state_dir / "state.json").read_text())
    except (OSError, ValueError):
        return None
    alive = runs.process_start(int(state.get("pid", 0))) == state.get("start")
    return dict(state) if alive else None


# ---- the background process ----
def serve(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m chaos_sandbox serve")
    p.add_argument("--state-dir", type=pathlib.Path, required=True)
    p.add_argument("--network", choices=["auto", "netns", "loopback"], default="auto")
    p.add_argument("--hours", type=float, default=8.0, help="stop by itself after this long")
    p.add_argument("--no-demo", action="store_true", help="do not deploy the demo workloads")
    p.add_argument("--no-operator", action="store_true", help="do not run the operator")
    p.add_argument("--helm", action="store_true", help="install the operator with helm (the chart's pod)")
    args = p.parse_args(argv)
    state_dir = _private_state_dir(args.state_dir)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kopf", "aiohttp.access"):  # per-request and per-poll lines would fill serve.log for hours
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sandbox = Sandbox(network=args.network, max_seconds=args.hours * 3600 + 60, work_dir=state_dir,
                      authorization="RBAC", crd=not (args.helm or args.no_operator))  # else the chart's
    operator: OperatorThread | None = None
    helm: dict[str, str] | None = None
    try:
        sandbox.start()
        if not args.no_demo:
            sandbox.deploy_demo()
        if args.helm and not args.no_operator:
            if (why := unavailable(sandbox)) is not None:
                raise RuntimeError(f"--helm: {why}")
            release = HelmRelease(sandbox, state_dir / "helm")
            release.install()
            helm = {"binary": str(release.helm), "pod": release.wait_leading()}
        elif not args.no_operator:
            # No token: the loopback administrator. The chart's RBAC is proven where Helm installs it
            # (tests/integration/test_chart_rbac.py); the sandbox does not render the chart.
            operator = OperatorThread(sandbox.url, sandbox.resolver)
            operator.start()
        kubeconfig = sandbox.write_kubeconfig(state_dir / "kubeconfig")  # the administrator (system:masters)
        sandbox.ensure_namespace("demo")
        restricted = add_restricted_user(sandbox.emu, state_dir / "kubeconfig-restricted")
        state = {"pid": os.getpid(), "start": runs.process_start(os.getpid()), "url": sandbox.url,
                 "mode": sandbox.mode, "note": sandbox.note, "token": sandbox.token, "kubeconfig": str(kubeconfig),
                 "kubeconfig_restricted": str(restricted),
                 "operator": operator is not None or helm is not None, "helm": helm, "started": time.time()}
        tmp = state_dir / "state.tmp"
        tmp.write_text(json.dumps(state))
        tmp.replace(state_dir / "state.json")  # written last: its presence means "ready"
        stop.wait(args.hours * 3600)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)  # cleanup runs to the end
        (state_dir / "state.json").unlink(missing_ok=True)
        try:
            if operator is not None:
                operator.stop()
        finally:
            sandbox.stop()
    return 0


# ---- the commands ----
def _kubectl_hint(state: dict[str, Any]) -> str:
    helm = (state.get("helm") or {}).get("binary")
    helm_hint = (f"  {helm} --kubeconfig {state['kubeconfig']} status {RELEASE} -n {NAMESPACE}   "
                 "(also upgrade, history, rollback, uninstall)\n") if helm else ""
    if not state.get("operator"):  # the user's own `helm install`, as on a cluster
        helm_hint = (f"  {find_helm() or 'helm'} --kubeconfig {state['kubeconfig']} install {RELEASE} "
                     f"helm/chaos-operator -n {NAMESPACE} --create-namespace\n")
    return (helm_hint + f"  kubectl --kubeconfig {state['kubeconfig']} get deploy,pods,svc,cex -n demo\n"
            f"  kubectl --kubeconfig {state['kubeconfig']} apply -f examples/demo/web-kill-one.yaml\n"
            f"  kubectl --kubeconfig {state.get('kubeconfig_restricted')} auth can-i delete pods -n demo"
            "   (RBAC is enforced; this user is restricted)\n"
            f"  chaos-operator report --server {state['url']} -n demo web-kill-one")


def up(state_dir: pathlib.Path, network: str, helm: bool = False, operator: bool = True) -> int:
    state = read_state(state_dir)
    if state is None:
        if helm and find_helm() is None:
            print("--helm: no helm v4 CLI (`make deps` installs one into .venv/bin)", file=sys.stderr)
            return 1
        _private_state_dir(state_dir)
        (state_dir / "state.json").unlink(missing_ok=True)
        argv = [sys.executable, "-m", "chaos_sandbox", "serve", "--state-dir", str(state_dir),
                "--network", network, *(["--helm"] if helm else []), *([] if operator else ["--no-operator"])]
        with (state_dir / "serve.log").open("ab") as logfile:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # detached: survives this shell command
        deadline = time.monotonic() + UP_TIMEOUT_S
        while (state := read_state(state_dir)) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(DOWN_TIMEOUT_S)
                tail = (state_dir / "serve.log").read_text(errors="replace")[-2000:]
                print(f"the sandbox did not start; the end of {state_dir / 'serve.log'}:\n{tail}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        print(f"sandbox up (pid {state['pid']}) at {state['url']}")
    else:
        print(f"sandbox already running (pid {state['pid']}) at {state['url']}")
    print(f"pods: {state['note']}")
    release = state.get("helm")
    running = (f"helm release {RELEASE} in {NAMESPACE}, pod {release['pod']}, installed with {release['binary']}"
               if release else "running in-process")
    idle = "not running (install it with helm, as below)"
    print(f"operator: {running if state.get('operator') else idle}; demo workloads in namespace demo")
    print(f"use it with:\n{_kubectl_hint(state)}\nstop it with: chaos-operator sandbox down")
    return 0


def down(state_dir: pathlib.Path) -> int:
    state = read_state(state_dir)
    if state is not None:
        os.kill(int(state["pid"]), signal.SIGTERM)
        deadline = time.monotonic() + DOWN_TIMEOUT_S
        while read_state(state_dir) is not None or runs.process_start(int(state["pid"])) == state["start"]:
            if time.monotonic() > deadline:
                print(f"pid {state['pid']} did not stop in {DOWN_TIMEOUT_S:g}s; killing it", file=sys.stderr)
                os.kill(int(state["pid"]), signal.SIGKILL)
                time.sleep(0.5)
                break
            time.sleep(0.1)
        print(f"sandbox (pid {state['pid']}) stopped")
    else:
        print("no sandbox was running")
    cleaned = leftovers.sweep()  # this run's, if it was killed, and any crashed run's
    if not cleaned.empty:
        print(f"removed leftovers of dead runs: {cleaned.describe()}")
    remaining = leftovers.scan()
    if not remaining.empty:
        print(f"still left behind: {remaining.describe()}", file=sys.stderr)
        return 1
    live = [run for run in runs.all_runs() if run.alive]
    others = f" ({len(live)} other live run(s) untouched)" if live else ""
    print(f"nothing left behind: no sandbox processes, network namespaces, veths or routes{others}")
    return 0


def status(state_dir: pathlib.Path) -> int:
    state = read_state(state_dir)
    if state is None:
        print("no sandbox running (start one with: chaos-operator sandbox up)")
    else:
        minutes = (time.time() - state["started"]) / 60
        print(f"sandbox running (pid {state['pid']}, {minutes:.0f} min) at {state['url']}")
        print(f"pods: {state['note']}")
        for kind, path in (("pods", "/api/v1/pods"),
                           ("experiments", "/apis/chaosoperator.dev/v1alpha1/chaosexperiments")):
            with urllib.request.urlopen(state["url"] + path, timeout=5) as resp:  # our own server on 127.0.0.1
                items = json.loads(resp.read())["items"]
            for item in items:
                meta, st = item["metadata"], item.get("status") or {}
                extra = st.get("verdict", "") if kind == "experiments" else st.get("podIP", "")
                print(f"  {kind[:-1]:<10} {meta['namespace']}/{meta['name']:<32} {st.get('phase', '-'):<10} {extra}")
        print(f"use it with:\n{_kubectl_hint(state)}")
    others = [run for run in runs.all_runs() if run.alive and (state is None or run.token != state.get("token"))]
    for run in others:
        print(f"another live sandbox run: {run.token} (pid {run.pid})")
    stale = leftovers.scan()
    if not stale.empty:
        print(f"leftovers of crashed runs: {stale.describe()} (`chaos-operator sandbox down` removes them)")
    return 0


def main_sandbox(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="chaos-operator sandbox", description=__doc__.split("\n")[0])
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--state-dir", type=pathlib.Path, default=None, help=f"default: {default_state_dir()}")
    p.add_argument("--network", choices=["auto", "netns", "loopback"], default="auto", help="for up")
    p.add_argument("--no-operator", action="store_true",
                   help="for up: no operator and no CRD, for `helm install` as on a cluster (needs root to run)")
    p.add_argument("--helm", action="store_true",
                   help="for up: install the operator with the real helm CLI, as the chart's pod (needs root)")
    args = p.parse_args(argv)
    state_dir = args.state_dir or default_state_dir()
    if args.action == "up":
        return up(state_dir, args.network, args.helm, not args.no_operator)
    if args.action == "down":
        return down(state_dir)
    return status(state_dir)
