"""Pure stress-ng argv builder and output parser (stress-ng 0.15 `--verbose --metrics-brief`).

stress-ng exits 0 and prints "successful run completed" even when every vm worker was
OOM-killed and respawned all along (it did 0 bogo ops). So the verdict here comes from the
per-instance lines ("started", "exited", "child died", "assuming killed by OOM killer",
"terminated on signal", "finished prematurely") and the per-stressor metrics rows, never from
the exit status alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

SIZE_RE = re.compile(r"^(?:[1-9][0-9]{0,5}[KMG]|[1-9][0-9]?%|100%)$")
MAX_WORKERS = 256
MAX_SECONDS = 86400

LINE_RE = re.compile(r"^stress-ng: (?P<level>[a-z]+):\s*\[(?P<pid>[0-9]+)\] (?P<msg>.*)$")
DISPATCH_RE = re.compile(r"^dispatching hogs: (?P<list>.*)$")
INSTANCE_RE = re.compile(
    r"^(?P<s>[a-z][a-z0-9-]*): (?P<event>started|exited) \[(?P<pid>[0-9]+)\] \(instance (?P<i>[0-9]+)\)"
)
CHILD_DIED_RE = re.compile(r"^(?P<s>[a-z][a-z0-9-]*): child died: signal .*\(instance (?P<i>[0-9]+)\)")
OOM_RESTART_RE = re.compile(r"^(?P<s>[a-z][a-z0-9-]*): assuming killed by OOM killer.*\(instance (?P<i>[0-9]+)\)")
TERMINATED_RE = re.compile(r"^process \[(?P<pid>[0-9]+)\] \((?P<s>[a-z][a-z0-9-]*)\) terminated on signal")
POSSIBLY_OOM_RE = re.compile(r"^process \[(?P<pid>[0-9]+)\] \((?P<s>[a-z][a-z0-9-]*)\) was possibly killed by the OOM")
PREMATURE_RE = re.compile(r"^(?P<s>[a-z][a-z0-9-]*): WARNING: finished prematurely")
METRIC_RE = re.compile(r"^(?P<s>[a-z][a-z0-9-]*)\s+(?P<ops>[0-9]+)\s+[0-9.]+\s")
RUN_RE = re.compile(r"^(?P<result>successful|unsuccessful) run completed")


def _count(value: int, what: str, low: int = 1, high: int = MAX_WORKERS) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} must be an integer from {low} to {high}, got {value!r}")
    return str(value)


def size(text: str) -> str:
    if not isinstance(text, str) or not SIZE_RE.fullmatch(text):
        raise ValueError(f"size {text!r} is not like 256M, 1G or 50%")
    return text


def stress_argv(
    seconds: float, temp_path: str, cpu: int = 0, cpu_load: int = 100, vm: int = 0, vm_bytes: str = "256M"
) -> list[str]:
    """stress-ng argv; `cpu`/`vm` of 0 leave that stressor out (stress-ng's 0 would mean "all CPUs")."""
    if not cpu and not vm:
        raise ValueError("stress needs --cpu and/or --vm workers")
    if not isinstance(seconds, int | float) or not 0 < seconds <= MAX_SECONDS:
        raise ValueError("duration out of range")
    if not re.fullmatch(r"/[A-Za-z0-9_./-]{0,200}", temp_path) or ".." in temp_path.split("/"):
        raise ValueError(f"temp path {temp_path!r} must be an absolute plain path")
    argv = ["stress-ng"]
    if cpu:
        argv += ["--cpu", _count(cpu, "cpu workers"), "--cpu-load", _count(cpu_load, "cpu load", 1, 100)]
    if vm:
        # --vm-keep holds the memory instead of unmapping it every pass: steady pressure.
        argv += ["--vm", _count(vm, "vm workers"), "--vm-bytes", size(vm_bytes), "--vm-keep"]
    timeout = max(1, math.ceil(seconds))
    return argv + ["--timeout", f"{timeout}s", "--metrics-brief", "--verbose", "--temp-path", temp_path]


@dataclass
class Stressor:
    name: str
    requested: int = 0
    started: set[int] = field(default_factory=set)  # instance numbers
    exited: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    deaths: int = 0
    oom_kills: int = 0
    bogo_ops: int | None = None

    def summary(self, verbose: bool) -> dict[str, int | None]:
        started = len(self.started) if verbose else self.requested
        failed = set(self.failed)
        if not self.bogo_ops:  # no metrics row, or no work done: every instance failed
            failed |= set(range(max(self.requested, started)))
        # Unattributed failures carry made-up instance keys: never count more than there are.
        instances = max(self.requested, started)
        failed_count = min(len(failed), instances) if instances else len(failed)
        return {
            "requested": self.requested,
            "started": started,
            "completed": max(0, started - failed_count),
            "failed": failed_count,
            "deaths": self.deaths,
            "oom_kills": self.oom_kills,
            "bogo_ops": self.bogo_ops,
        }


@dataclass
class StressResult:
    stressors: dict[str, Stressor]
    run: str | None  # "successful", "unsuccessful", or None when stress-ng never finished
    verbose: bool
    errors: list[str]

    def workers(self) -> dict[str, dict[str, int | None]]:
        return {name: s.summary(self.verbose) for name, s in self.stressors.items()}

    def total(self, key: str) -> int:
        return sum(int(w[key] or 0) for w in self.workers().values())

    @property
    def ok(self) -> bool:
        return self.run == "successful" and not self.errors and self.total("failed") == 0 and bool(self.stressors)

    def problems(self) -> list[str]:
        out = []
        if self.run is None:
            out.append("stress-ng did not finish its run")
        elif self.run == "unsuccessful":
            out.append("stress-ng reported an unsuccessful run")
        for name, w in self.workers().items():
            if w["failed"]:
                out.append(
                    f"{name}: {w['failed']} of {w['requested']} workers failed "
                    f"({w['oom_kills']} OOM kills, {w['deaths']} deaths, bogo ops {w['bogo_ops']})"
                )
        return out + self.errors[:5]


def _stressor(stressors: dict[str, Stressor], name: str) -> Stressor:
    return stressors.setdefault(name, Stressor(name))


def started_workers(text: str) -> int:
    """How many worker instances have said "started" so far (output read while stress-ng runs)."""
    return sum(len(s.started) for s in parse_output(text).stressors.values())


def parse_output(text: str) -> StressResult:
    stressors: dict[str, Stressor] = {}
    instance_of: dict[int, tuple[str, int]] = {}  # worker pid -> (stressor, instance)
    run: str | None = None
    verbose = False
    errors: list[str] = []
    for line in text.splitlines():
        match = LINE_RE.match(line.strip())
        if not match:
            continue
        level, msg, line_pid = match["level"], match["msg"].strip(), int(match["pid"])
        if level in {"fail", "error"}:
            errors.append(msg[:200])
        if m := DISPATCH_RE.match(msg):
            for part in m["list"].split(","):
                words = part.split()
                if len(words) == 2 and words[0].isdigit():
                    _stressor(stressors, words[1]).requested = int(words[0])
        elif m := INSTANCE_RE.match(msg):
            s, i = _stressor(stressors, m["s"]), int(m["i"])
            verbose = True
            if m["event"] == "started":
                s.started.add(i)
                instance_of[int(m["pid"])] = (s.name, i)
            else:
                s.exited.add(i)
        elif m := CHILD_DIED_RE.match(msg):
            s = _stressor(stressors, m["s"])
            s.deaths += 1
            s.failed.add(int(m["i"]))
        elif m := OOM_RESTART_RE.match(msg):
            s = _stressor(stressors, m["s"])
            s.oom_kills += 1
            s.failed.add(int(m["i"]))
        elif (m := TERMINATED_RE.match(msg)) or (m := POSSIBLY_OOM_RE.match(msg)):
            s = _stressor(stressors, m["s"])
            name, i = instance_of.get(int(m["pid"]), (s.name, -int(m["pid"])))
            if "terminated" in msg:
                s.deaths += 1
            else:
                s.oom_kills += 1
            s.failed.add(i)
        elif m := PREMATURE_RE.match(msg):
            s = _stressor(stressors, m["s"])
            s.failed.add(instance_of.get(line_pid, (s.name, -line_pid))[1])
        elif level == "metrc" and (m := METRIC_RE.match(msg)) and m["s"] != "stressor":
            _stressor(stressors, m["s"]).bogo_ops = int(m["ops"])
        elif m := RUN_RE.match(msg):
            run = m["result"]
    return StressResult(stressors, run, verbose, errors)
