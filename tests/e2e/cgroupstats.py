"""Reading a sandbox pod's CPU cgroup (v1 `cpu` hierarchy, or cgroup2) and timing requests to it, for the
in-cgroup stress figures: throttled periods and time from `cpu.stat`, request latency measured from the test."""

from __future__ import annotations

import pathlib
import time
import urllib.request
from dataclasses import dataclass

from chaos_sandbox.cluster import Sandbox


def cpu_cgroup(box: Sandbox, uid: str, hierarchy: str = "cpu") -> pathlib.Path:
    """The pod's container cgroup in the v1 cpu hierarchy, or on cgroup2 ("unified"): the sandbox makes it for a
    pod with a CPU limit."""
    assert box.cgroups is not None and hierarchy in box.cgroups.limited, f"no {hierarchy} hierarchy here"
    root = box.cgroups.limited[hierarchy] / box.cgroups.root.name
    (pod,) = list(root.glob(f"kubepods/*/pod{uid}"))
    (container,) = [d for d in pod.iterdir() if d.is_dir()]
    return container


@dataclass(frozen=True)
class Throttling:
    periods: int
    throttled: int
    seconds: float

    @classmethod
    def read(cls, cgroup: pathlib.Path) -> Throttling:
        stat = dict(line.split() for line in (cgroup / "cpu.stat").read_text().splitlines())
        seconds = int(stat["throttled_time"]) / 1e9 if "throttled_time" in stat else int(stat["throttled_usec"]) / 1e6
        return cls(int(stat["nr_periods"]), int(stat["nr_throttled"]), seconds)

    def __sub__(self, other: Throttling) -> Throttling:
        return Throttling(self.periods - other.periods, self.throttled - other.throttled, self.seconds - other.seconds)

    def describe(self) -> str:
        return f"{self.throttled}/{self.periods} periods throttled, {self.seconds:.2f}s throttled"


def latencies(url: str, count: int, every: float = 0.05) -> list[float]:
    """`count` requests one after another (loopback proxy only): seconds each."""
    assert url.startswith("http://127.0.0.1:"), url
    taken = []
    for _ in range(count):
        started = time.monotonic()
        with urllib.request.urlopen(url, timeout=5) as resp:
            resp.read()
        taken.append(time.monotonic() - started)
        time.sleep(every)
    return taken


def p50(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def p95(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.95))]
