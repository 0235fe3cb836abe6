"""`python -m chaos_sandbox.node.cgexec [--cpus 1,3] CGROUP ARGV...`: join a sandbox cgroup, then exec ARGV.

The sandbox starts every pod process through this, so the process is in its pod's cgroup before it runs
anything of its own, and nothing it starts later can be outside it (no window in which a child could be
forked in the parent's cgroup). The process keeps its pid: after `execvp` it simply is ARGV. Only cgroups of a
sandbox run (a `csbx-` directory below a cgroup mount) are accepted. With `--cpus` the process is also bound
to those CPUs (the sandbox node's), which everything it starts inherits. Exit 127 with a message when it fails.
"""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Sequence

from chaos_sandbox.node.cgroups import PREFIX, hierarchy


def join(cgroup: str) -> None:
    path = pathlib.Path(cgroup)
    base = hierarchy()
    if base is None or not path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{cgroup!r} is not a cgroup path")
    relative = path.relative_to(base) if path.is_relative_to(base) else None
    if relative is None or not relative.parts or not relative.parts[0].startswith(PREFIX):
        raise ValueError(f"{cgroup} is not a sandbox cgroup below {base}")
    (path / "cgroup.procs").write_text(str(os.getpid()))


def cpu_list(text: str) -> set[int]:
    cpus = {int(part) for part in text.split(",") if part.isdigit()}
    if not cpus or len(cpus) != len(text.split(",")):
        raise ValueError(f"--cpus {text!r} is not a list of CPU numbers")
    return cpus


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    cpus = None
    try:
        if args[:1] == ["--cpus"] and len(args) > 1:
            cpus, args = cpu_list(args[1]), args[2:]
        if len(args) < 2:
            raise ValueError("usage: python -m chaos_sandbox.node.cgexec [--cpus LIST] CGROUP ARGV...")
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        join(args[0])
        os.execvp(args[1], args[1:])
    except (OSError, ValueError) as exc:
        print(f"cgexec: {exc}", file=sys.stderr, flush=True)
    return 127


if __name__ == "__main__":
    sys.exit(main())
