"""The agent's ready file: how a helper pod says, without any API access, that its fault is in effect.

The file exists exactly while the fault is in place: created only after the qdisc is applied and verified (or once
every stress-ng worker has started), removed as the first step of reverting or exiting. The pod's exec
readinessProbe (`test -e FILE`) turns that into `containerStatuses[].ready`, which the operator reads.
"""

from __future__ import annotations

import os
import re

from chaos_operator.agent.base import EXIT_INTERNAL, AgentFailure, log, now

PATH_RE = re.compile(r"^/[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,200}$")


def path(text: str) -> str:
    """A ready-file path as the agent accepts it: absolute, plain characters, no `..`."""
    if not PATH_RE.fullmatch(text) or ".." in text.split("/") or text.endswith("/"):
        raise ValueError(f"ready file {text!r} must be an absolute plain path")
    return text


class ReadyFile:
    """`mark()` once the fault is in place; `clear()` before undoing it (idempotent; a no-op without a path)."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.marked = False

    def mark(self) -> None:
        if self.file is None or self.marked:
            return
        self.clear()  # a leftover (there should be none: the emptyDir is the pod's own) is not ours to trust
        try:
            fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(now() + "\n")
        except OSError as exc:
            raise AgentFailure(EXIT_INTERNAL, "ReadyFileFailed", f"ready file {self.file}: {exc}") from None
        self.marked = True

    def clear(self) -> None:
        if self.file is None:
            return
        try:
            os.unlink(self.file)
        except FileNotFoundError:
            pass
        except OSError as exc:  # the revert must still happen; the probe keeps passing until the pod ends: say so
            log(f"could not remove ready file {self.file}: {exc}")
        self.marked = False
