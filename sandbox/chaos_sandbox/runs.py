"""Which sandbox runs are alive: one small JSON file per run token, naming the process that owns it.

A run registers before it creates anything and unregisters after it removed everything, so a name with
our prefix whose token has no file, or whose owner is gone, is a leftover that `sandbox down` may remove.
The owner is checked by pid *and* process start time, so a reused pid does not keep a dead run alive.
"""

from __future__ import annotations

import json
import os
import pathlib
import stat
from dataclasses import dataclass
from typing import Any


def private_dir(path: pathlib.Path) -> pathlib.Path:
    """Create (0700) or accept a directory only if it is ours, real (no symlink) and not writable by others."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise PermissionError(f"{path} is not a private directory owned by uid {os.geteuid()}")
    return path


def runs_dir() -> pathlib.Path:
    # Fixed per user (not $XDG_RUNTIME_DIR): every shell and test run of this user must see the same runs.
    uid = os.geteuid()
    base = pathlib.Path("/run/chaos-sandbox") if uid == 0 else pathlib.Path(f"/tmp/chaos-sandbox-{uid}")
    private_dir(base)
    return private_dir(base / "runs")


def process_start(pid: int) -> int | None:
    """The start time of a process in clock ticks since boot, or None if there is no such live process."""
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the fields after the command name, from field 3 (state) on
    if fields[0] in ("Z", "X"):
        return None  # exited, not yet reaped by its parent: dead all the same
    return int(fields[19])  # field 22: start time


@dataclass(frozen=True)
class Run:
    token: str
    pid: int
    start: int | None
    extra: dict[str, Any]

    @property
    def alive(self) -> bool:
        return self.start is not None and process_start(self.pid) == self.start


def register(token: str, **extra: Any) -> None:
    pid = os.getpid()
    path = runs_dir() / f"{token}.json"
    previous = read(token)
    data = {**(previous.extra if previous else {}), **extra}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": pid, "start": process_start(pid), **data}))
    tmp.replace(path)


def unregister(token: str) -> None:
    (runs_dir() / f"{token}.json").unlink(missing_ok=True)


def read(token: str) -> Run | None:
    try:
        data = json.loads((runs_dir() / f"{token}.json").read_text())
    except (OSError, ValueError):
        return None
    pid, start = int(data.pop("pid", 0)), data.pop("start", None)
    return Run(token, pid, int(start) if start is not None else None, data)


def all_runs() -> list[Run]:
    found = [read(path.stem) for path in sorted(runs_dir().glob("*.json"))]
    return [run for run in found if run is not None]
