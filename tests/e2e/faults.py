"""What the fault end-to-end tests share: experiments from the demo examples, waits, and the check that nothing of
a fault is left behind (helper pods, agent and stress-ng processes, qdiscs, cgroups, network namespaces)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from chaos_sandbox.cluster import DEMO_DIR, Sandbox
from chaos_sandbox.node import cgroups

from chaos_operator.faults.helpers.pod_spec import HELPER_SELECTOR
from chaos_operator.models.duration import parse_duration
from tests.support.system import agent_processes, commands_in, root_qdisc
from tests.support.waits import status_of, wait_for

OPERATOR_NS = "chaos-system"  # where the operator creates every helper pod, whatever the target's namespace

BANDWIDTH_PHASES = {"baseline": "6s", "chaos": "6s", "recovery": "4s"}  # 20 req/s: 100 in the baseline at least


def example(name: str, ns: str, app: str, **spec: Any) -> dict[str, Any]:
    """A demo example experiment, moved to namespace `ns`, aimed at `app`, with `spec` overrides."""
    doc = yaml.safe_load((DEMO_DIR / name).read_text())
    doc["metadata"]["namespace"] = ns
    doc["spec"]["target"]["selector"] = {"matchLabels": {"app": app}}
    doc["spec"]["load"]["service"]["name"] = app
    doc["spec"].update(spec)
    return dict(doc)


def injected(box: Sandbox, ns: str, name: str, count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
    return list(wait_for(f"{count} injected", lambda: len(r := [i for i in status_of(box.emu, name, ns).get(
        "injections", []) if i["state"] == "Injected"]) >= count and r, timeout, every=0.1))


def latency(st: dict[str, Any], phase: str, figure: str = "p95") -> float:
    """Seconds, from the status' duration string (e.g. 12.5ms)."""
    return float(parse_duration(st["phases"][phase]["latency"][figure]))


def figures(st: dict[str, Any]) -> str:
    rows = []
    for phase in ("baseline", "chaos", "recovery"):
        p = st["phases"].get(phase)
        if p:
            lat = p["latency"]
            rows.append(f"{phase:9} requests {p['requests']:4} errors {p['errors']:3} throughput {p['throughput']:6}"
                        f" mean {lat['mean']:>8} p50 {lat['p50']:>8} p95 {lat['p95']:>8} p99 {lat['p99']:>8}")
    return "\n".join(rows)


def assert_nothing_left(box: Sandbox, ns: str, targets: set[str], timeout: float = 15) -> None:
    """No helper pod, no agent or stress-ng process, no qdisc of ours, no cgroup but the demo pods' own."""
    assert box.cgroups is not None and box.node is not None
    wait_for("no helper pod", lambda: not box.emu.list("pods", OPERATOR_NS, label_selector=HELPER_SELECTOR), timeout)
    demo = {p["metadata"]["uid"]: p["metadata"]["name"] for p in box.emu.list("pods", None)}
    pids = {box.pod_pid(p_ns, name) for p_ns, name in
            ((p["metadata"]["namespace"], p["metadata"]["name"]) for p in box.emu.list("pods", None))}

    def extra() -> str:
        in_tree = set(cgroups.procs(box.cgroups.root)) - pids  # type: ignore[union-attr]
        qos = box.cgroups.root.joinpath(*cgroups.QOS)  # type: ignore[union-attr]
        pods = {d.name[3:] for d in qos.iterdir() if d.is_dir() and d.name.startswith("pod")} - set(demo)
        agents = agent_processes(targets)
        return (f"processes {sorted(in_tree)} {commands_in(box.cgroups.root)}" if in_tree else "") + (  # type: ignore[union-attr]
            f" pod cgroups {sorted(pods)}" if pods else "") + (f" agents {agents}" if agents else "")
    last = ""

    def clean() -> bool:
        nonlocal last
        last = extra()
        return not last
    try:
        wait_for("only the demo pods' processes and cgroups", clean, timeout)
    except AssertionError:
        raise AssertionError(f"left behind: {last}") from None
    assert not [c for c in commands_in(box.cgroups.root) if c.startswith("stress-ng")]
    for uid in targets:
        name = demo.get(uid)
        netns = box.pod_netns(ns, name) if name else None
        if netns is not None:
            assert root_qdisc(netns).split()[0] not in ("tbf", "netem"), root_qdisc(netns)
    node = box.node

    def with_net() -> int:
        return sum(1 for s in node.slots.values() if s.net is not None)
    slots_with_net = box.emu.call(with_net)
    listed = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True, timeout=10, check=True)
    ours = [n for n in json.loads(listed.stdout or "[]") if str(n["name"]).startswith(f"csbx-{box.token}-")]
    assert len(ours) == slots_with_net


@dataclass
class QdiscWatch:
    """Polls a pod's root qdisc and the helper pods (in the operator's namespace) every `every` s: when our qdisc
    (of `kind`) came and went, and when a helper pod was first seen deleting (for the revert time). With
    `experiment`, also when its status first showed each phase (and "Injected": a record in that state), and then
    the value of `counter` (e.g. connections opened)."""

    box: Sandbox
    ns: str
    netns: str
    kind: str = "tbf"
    every: float = 0.05
    experiment: str | None = None
    counter: Callable[[], int] | None = None
    started: float = field(default_factory=time.monotonic)
    applied: float | None = None
    removed: float | None = None
    deleting: float | None = None
    kinds: set[str] = field(default_factory=set)
    phases: dict[str, tuple[float, int]] = field(default_factory=dict)  # phase -> (seen at, counter then)
    counted: dict[str, int] = field(default_factory=dict)  # "applied"/"removed" -> counter then
    _halt: threading.Event = field(default_factory=threading.Event)

    def _main(self) -> None:
        while not self._halt.wait(self.every):
            if self.experiment is not None:
                st = status_of(self.box.emu, self.experiment, self.ns)
                seen = [st.get("phase")] + (["Injected"] if any(
                    r.get("state") == "Injected" for r in st.get("injections", [])) else [])
                for phase in seen:
                    if phase and phase not in self.phases:
                        self.phases[phase] = (time.monotonic() - self.started, self.counter() if self.counter else 0)
            if self.deleting is None and any(p["metadata"].get("deletionTimestamp") for p in self.box.emu.list(
                    "pods", OPERATOR_NS, label_selector=HELPER_SELECTOR)):
                self.deleting = time.monotonic() - self.started
            kind = root_qdisc(self.netns).split()[0]
            now = time.monotonic() - self.started
            self.kinds.add(kind)
            if kind == self.kind and self.applied is None:
                self.applied = now
                self.counted["applied"] = self.counter() if self.counter else 0
            if kind != self.kind and self.applied is not None and self.removed is None:
                self.removed = now
                self.counted["removed"] = self.counter() if self.counter else 0

    @property
    def revert_s(self) -> float | None:
        return None if self.removed is None or self.deleting is None else self.removed - self.deleting

    @contextlib.contextmanager
    def run(self) -> Iterator[QdiscWatch]:
        thread = threading.Thread(target=self._main, name="qdisc-watch", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._halt.set()
            thread.join(5)
