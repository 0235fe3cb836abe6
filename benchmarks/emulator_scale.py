"""How the sandbox's API emulator holds up the longer it runs (figures in benchmarks/README.md; not a test).

1. Dry-run experiments applied one by one to the emulator with the real operator (kopf, our handlers) running:
   apply -> first status write naming the targets, for the 1st, 100th and 1000th experiment (`kubectl apply` at
   those three, a plain POST for the others), and the POST -> targets median around each.
2. One running experiment's API traffic for an hour (one poll a second: list the target pods, read the
   experiment, write its status, an Event every 5 s): request latency at the start and at the end.

    python benchmarks/emulator_scale.py [--experiments 1000] [--rounds 3600] [--max-seconds 1500]

Only 127.0.0.1 is used; kubectl is always given the emulator's kubeconfig. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import aiohttp
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))  # tests.support (StaticResolver)

from chaos_sandbox.emulator import EmulatorThread
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.models.crd import load_crd
from tests.support.resolver import StaticResolver

NS = "shop"
CHECKPOINTS = (1, 100, 1000)
SPEC: dict[str, Any] = {
    "target": {"selector": {"matchLabels": {"app": "checkout"}}, "mode": "fixed", "value": 1},
    "fault": {"kind": "PodKill"},
    "load": {"service": {"name": "checkout", "port": 8080}, "path": "/health", "rate": 10, "timeout": "1s"},
    "phases": {"baseline": "10s", "chaos": "10s", "recovery": "10s"},
    "slos": {"maxErrorRate": 0.05},
    "dryRun": True,
}


def experiment(name: str) -> dict[str, Any]:
    return {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
            "metadata": {"name": name, "namespace": NS}, "spec": SPEC}


class Watcher:
    """Notes, on the emulator's loop, when each experiment first has targets in status and when it ends."""

    def __init__(self) -> None:
        self.targets: dict[str, float] = {}
        self.done: dict[str, threading.Event] = {}

    def __call__(self, event: Any) -> None:
        obj = event.obj
        if obj.get("kind") != "ChaosExperiment":
            return
        name, status = obj["metadata"]["name"], obj.get("status") or {}
        if status.get("targets") and name not in self.targets:
            self.targets[name] = time.monotonic()
        if status.get("phase") in ("Completed", "Failed", "Aborted"):
            self.done.setdefault(name, threading.Event()).set()

    def wait(self, name: str, timeout: float) -> bool:
        return self.done.setdefault(name, threading.Event()).wait(timeout)


def seed(emu: EmulatorThread) -> None:
    emu.register_crd(load_crd())
    for ns in (NS, "chaos-system"):
        emu.create("namespaces", {"metadata": {"name": ns}})
    emu.create("services", {"metadata": {"name": "checkout"},
                            "spec": {"selector": {"app": "checkout"}, "ports": [{"port": 8080}]}}, NS)
    for i in range(3):
        emu.create("pods", {"metadata": {"name": f"checkout-{i}", "labels": {"app": "checkout"}},
                            "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "app:1"}]}}, NS)
        emu.patch("pods", NS, f"checkout-{i}", {"status": {
            "phase": "Running", "podIP": "240.0.0.9", "conditions": [{"type": "Ready", "status": "True"}]}},
            subresource="status")


def post(url: str, body: dict[str, Any]) -> None:
    async def send() -> None:
        async with aiohttp.ClientSession() as session, session.post(
                f"{url}/apis/chaosoperator.dev/v1alpha1/namespaces/{NS}/chaosexperiments", json=body) as response:
            if response.status != 201:
                raise RuntimeError(f"create failed: {response.status} {await response.text()}")
    asyncio.run(send())


def kubectl_apply(kubeconfig: pathlib.Path, manifest: dict[str, Any], workdir: pathlib.Path) -> None:
    path = workdir / "experiment.yaml"
    path.write_text(yaml.safe_dump(manifest))
    subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "--request-timeout=30s", "apply", "-f", str(path)],
                   check=True, capture_output=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(workdir)})


def experiments(emu: EmulatorThread, count: int, deadline: float, workdir: pathlib.Path) -> None:
    watcher = Watcher()
    emu.call(emu.emulator.store.listeners.append, watcher)
    kubeconfig = emu.write_kubeconfig(workdir / "kubeconfig", NS)
    resolver = StaticResolver({(NS, "checkout", 8080): ["http://127.0.0.1:9"]})
    post_ms: list[float] = []
    print(f"1. dry-run experiments applied one by one, real operator (up to {count})")
    with OperatorThread(emu.url, resolver, load_runner="inprocess"):
        for index in range(1, count + 1):
            if time.monotonic() > deadline:
                print(f"   stopped at experiment {index - 1}: --max-seconds reached")
                break
            name = f"dry-{index:05d}"
            started = time.monotonic()
            if index in CHECKPOINTS:
                kubectl_apply(kubeconfig, experiment(name), workdir)
            else:
                post(emu.url, experiment(name))
            if not watcher.wait(name, 60) or name not in watcher.targets:
                print(f"   experiment {index} did not finish with targets in 60 s")
                break
            elapsed = (watcher.targets[name] - started) * 1000
            if index in CHECKPOINTS:
                print(f"   #{index:<5} kubectl apply -> targets in status: {elapsed:7.0f} ms")
            else:
                post_ms.append(elapsed)
            if index in (10, 100, 1000):
                window = post_ms[-9:]
                print(f"   #{index - 8}..#{index} POST -> targets in status, median {statistics.median(window):.0f} ms"
                      f" (max {max(window):.0f})")


async def traffic(url: str, rounds: int, deadline: float) -> None:
    base = f"{url}/apis/chaosoperator.dev/v1alpha1/namespaces/{NS}/chaosexperiments"
    pods = f"{url}/api/v1/namespaces/{NS}/pods?labelSelector=app%3Dcheckout"
    kinds: dict[str, list[float]] = {"list pods": [], "get experiment": [], "patch status": [], "create event": []}
    async with aiohttp.ClientSession() as session:
        async with session.post(base, json={**experiment("hour"), "spec": {**SPEC, "dryRun": False}}) as created:
            assert created.status == 201, await created.text()

        async def timed(kind: str, method: str, target: str, body: Any = None, ctype: str = "") -> None:
            began = time.perf_counter()
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": ctype} if ctype else {}
            async with session.request(method, target, data=data, headers=headers) as response:
                await response.read()
                assert response.status < 300, (kind, response.status)
            kinds[kind].append((time.perf_counter() - began) * 1000)

        done = 0
        for done in range(1, rounds + 1):
            if time.monotonic() > deadline:
                break
            await timed("list pods", "GET", pods)
            await timed("get experiment", "GET", f"{base}/hour")
            await timed("patch status", "PATCH", f"{base}/hour/status",
                        {"status": {"phase": "Chaos", "message": f"poll {done}"}}, "application/merge-patch+json")
            if done % 5 == 0:
                await timed("create event", "POST", f"{url}/api/v1/namespaces/{NS}/events", {
                    "metadata": {"generateName": "hour."}, "reason": "Poll", "message": f"poll {done}",
                    "involvedObject": {"kind": "ChaosExperiment", "namespace": NS, "name": "hour"}}, "application/json")
    total = sum(len(values) for values in kinds.values())
    print(f"2. one experiment's traffic: {done} polls, {total} requests; latency ms, median / p95")
    for kind, values in kinds.items():
        if len(values) < 40:
            continue
        head, tail = values[: len(values) // 10], values[-(len(values) // 10):]
        print(f"   {kind:<15} first 10 %: {statistics.median(head):5.1f} / {quantile(head, 0.95):5.1f}"
              f"   last 10 %: {statistics.median(tail):5.1f} / {quantile(tail, 0.95):5.1f}")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3600, help="polls of one experiment (one a second = 1 hour)")
    parser.add_argument("--max-seconds", type=float, default=1500, help="bound on each part")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kopf").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="emulator-scale-") as tmp, EmulatorThread(timeout=60) as emu:
        seed(emu)
        experiments(emu, args.experiments, time.monotonic() + args.max_seconds, pathlib.Path(tmp))
    with EmulatorThread(timeout=60) as emu:
        seed(emu)
        asyncio.run(traffic(emu.url, args.rounds, time.monotonic() + args.max_seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
