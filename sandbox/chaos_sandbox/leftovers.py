"""Find and remove what sandbox runs left behind: pod processes (demo apps, and anything in a run's cgroups,
such as agents and their stress-ng workers), cgroups, network namespaces, veths, routes, run files.

A thing is a leftover when its run token belongs to no live run (`runs.py`): the run crashed or was
killed before it could clean up. Live runs, such as a test suite running beside `sandbox down`, are
never touched. `scan(token=…)` looks at one run only, for tests and the demo's final check.
"""

from __future__ import annotations

import ipaddress
import json
import os
import pathlib
import signal
import subprocess
from dataclasses import dataclass, field

from chaos_sandbox import runs
from chaos_sandbox.node import cgroups, limits
from chaos_sandbox.node.podnet import NET_BASE, PREFIX, NetError, ip_sync

APP_MODULE = "chaos_sandbox.demo_app"


@dataclass
class Leftovers:
    processes: list[tuple[int, str]] = field(default_factory=list)  # (pid, run token)
    cgroups: list[str] = field(default_factory=list)  # run cgroup trees
    netns: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)  # unreachable /24s
    runs: list[str] = field(default_factory=list)  # run files of dead runs

    @property
    def empty(self) -> bool:
        return not (self.processes or self.cgroups or self.netns or self.links or self.routes or self.runs)

    def describe(self) -> str:
        parts = [f"{len(self.processes)} pod processes" if self.processes else "",
                 f"cgroups {', '.join(self.cgroups)}" if self.cgroups else "",
                 f"network namespaces {', '.join(self.netns)}" if self.netns else "",
                 f"veths {', '.join(self.links)}" if self.links else "",
                 f"routes {', '.join(self.routes)}" if self.routes else "",
                 f"run records {', '.join(self.runs)}" if self.runs else ""]
        return "; ".join(p for p in parts if p) or "nothing"


def app_processes() -> list[tuple[int, str]]:
    """(pid, run token) of every demo_app process of any run."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [w.decode(errors="replace") for w in argv]
        if APP_MODULE in words and "--run" in words[:-1]:
            found.append((int(entry.name), words[words.index("--run") + 1]))
    return sorted(found)


def _ip_json(*args: str) -> list[dict[str, object]]:
    try:
        out = ip_sync("-j", *args)
    except (OSError, NetError, subprocess.TimeoutExpired):
        return []
    data = json.loads(out) if out.strip() else []
    return data if isinstance(data, list) else []


def _netns_token(name: str) -> str | None:
    parts = name.split("-")
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX else None


def _link_token(name: str) -> str | None:
    return name[len(PREFIX):len(PREFIX) + 4] if name.startswith(PREFIX) and len(name) > len(PREFIX) + 4 else None


def scan(token: str | None = None) -> Leftovers:
    """What belongs to run `token`, or (token None) to runs that are no longer alive."""
    all_runs = runs.all_runs()
    live = {run.token for run in all_runs if run.alive}

    def wanted(tok: str | None) -> bool:
        return tok is not None and (tok == token if token is not None else tok not in live)

    found = Leftovers()
    found.processes = [(pid, tok) for pid, tok in app_processes() if wanted(tok) and pid != os.getpid()]
    trees = [(tok, path) for base in (None, *limits.bases().values()) for tok, path in cgroups.run_roots(base)
             if wanted(tok)]
    trees += [(run.token, pathlib.Path(tree)) for run in all_runs if wanted(run.token)
              for tree in run.extra.get("cgroup_trees") or [] if pathlib.Path(tree).is_dir()
              and (run.token, pathlib.Path(tree)) not in trees]
    found.cgroups = [str(path) for _, path in trees]
    known = {pid for pid, _ in found.processes}
    for tok, path in trees:  # a pod's process is in each of its hierarchies: once here
        for pid in cgroups.procs(path):
            if pid not in known and pid != os.getpid():
                found.processes.append((pid, tok))
                known.add(pid)
    netns = [str(n.get("name")) for n in _ip_json("netns", "list")]
    found.netns = sorted(name for name in netns if wanted(_netns_token(name)))
    links = [str(n.get("ifname")) for n in _ip_json("link", "show")]
    found.links = sorted(name for name in links if wanted(_link_token(name)))
    owned = {str(run.extra.get("subnet")): run.token for run in all_runs}
    for route in _ip_json("-4", "route", "show", "type", "unreachable"):
        dst = str(route.get("dst", ""))
        try:
            ours = ipaddress.ip_network(dst).subnet_of(NET_BASE)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            continue
        if ours and (owned.get(dst) == token if token is not None else owned.get(dst) not in live):
            found.routes.append(dst)
    found.runs = [run.token for run in all_runs if wanted(run.token)]
    return found


def sweep(token: str | None = None) -> Leftovers:
    """Remove what `scan` finds (processes first, so namespaces are not held open). Returns what it found."""
    found = scan(token)
    for pid, _ in found.processes:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for tree in found.cgroups:
        cgroups.remove_tree_sync(pathlib.Path(tree))
    for args in ([("link", "del", name) for name in found.links] + [("netns", "del", name) for name in found.netns]
                 + [("route", "del", "unreachable", dst) for dst in found.routes]):
        try:
            ip_sync(*args)
        except (NetError, OSError, subprocess.TimeoutExpired):
            pass
    for tok in found.runs:
        runs.unregister(tok)
    return found
