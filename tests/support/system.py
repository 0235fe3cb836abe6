"""What the system shows about a sandbox run, asked the plain way (ip, tc, /proc, cgroup files), for the sandbox
and end-to-end tests of helper and stress pods."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
from typing import Any

from chaos_sandbox.node import cgroups
from chaos_sandbox.node.podnet import netns_supported

TOOLS = ("tc", "nsenter", "stress-ng", "ip", "unshare")


def why_not() -> str | None:
    """Why the sandbox cannot run helper pods for real here, or None when it can."""
    for ok, why in (netns_supported(), cgroups.supported()):
        if not ok:
            return f"helper pods run for real only as root with network namespaces and cgroups: {why}"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    return f"missing tools: {', '.join(missing)}" if missing else None


def netem_missing() -> str | None:
    """A real probe: add a netem qdisc in a throwaway network namespace (gone with the probe's process)."""
    done = subprocess.run(["unshare", "--net", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
                          capture_output=True, text=True, timeout=10, check=False)
    return None if done.returncode == 0 else f"kernel has no netem (sch_netem): {done.stderr.strip()}"


def root_qdisc(netns: str) -> str:
    """The kind and handle of eth0's root qdisc inside a pod's network namespace, e.g. `tbf c4a0:`."""
    out = subprocess.run(["ip", "netns", "exec", netns, "tc", "-j", "qdisc", "show", "dev", "eth0"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    root: dict[str, Any] = next((q for q in json.loads(out or "[]") if q.get("root")), {})
    return f"{root.get('kind', 'none')} {root.get('handle', '')}".strip()


def agent_processes(uids: set[str]) -> list[int]:
    """Pids of agent processes aimed at any of these pod UIDs, anywhere on this machine."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        try:
            words = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "chaos_operator.agent" in words and "--pod-uid" in words[:-1]:
            if words[words.index("--pod-uid") + 1] in uids:
                found.append(int(entry.name))
    return found


def commands_in(path: pathlib.Path) -> list[str]:
    names = []
    for pid in cgroups.procs(path):
        try:
            names.append(pathlib.Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            pass
    return names
