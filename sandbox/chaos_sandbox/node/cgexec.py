"""`python -m chaos_sandbox.node.cgexec [--cpus 1,3] CGROUP[:CGROUP...] ARGV...`: join sandbox cgroups, exec ARGV.

The sandbox starts every pod process through this, so the process is in its pod's cgroup before it runs
anything of its own, and nothing it starts later can be outside it (no window in which a child could be
forked in the parent's cgroup). The process keeps its pid: after `execvp` it simply is ARGV. Only cgroups of a
sandbox run (below a `csbx-` directory under a cgroup mount) are accepted; several, one per hierarchy, are
separated by `:` (a pod with limits: pids, cpu, memory). With `--cpus` the process is also bound
to those CPUs (the sandbox node's), which everything it starts inherits. Exit 127 with a message when it fails.
"""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Sequence

from chaos_sandbox.node.cgroups import PREFIX, hierarchy
from chaos_sandbox.node.limits import bases


def join(cgroup: str) -> None:
    path = pathlib.Path(cgroup)
    if not path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{cgroup!r} is not a cgroup path")
    for base in (hierarchy(), *bases().values()):
        if base is not None and path.is_relative_to(base):
            relative = path.relative_to(base)
            if relative.parts and relative.parts[0].startswith(PREFIX):
                (path / "cgroup.procs").write_text(str(os.getpid()))
                return
    raise ValueError(f"{cgroup} is not a sandbox cgroup")


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
            raise ValueError("usage: python -m chaos_sandbox.node.cgexec [--cpus LIST] CGROUP[:CGROUP...] ARGV...")
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        for cgroup in args[0].split(":"):
            join(cgroup)
        os.execvp(args[1], args[1:])
    except (OSError, ValueError) as exc:
        print(f"cgexec: {exc}", file=sys.stderr, flush=True)
    return 127


if __name__ == "__main__":
    sys.exit(main())
