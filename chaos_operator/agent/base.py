"""What every part of the agent shares: exit codes, the failure type, and running one argv (never a shell)."""

from __future__ import annotations

import datetime
import subprocess
import sys

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_FOREIGN = 4
EXIT_TC = 5
EXIT_REVERT = 6
EXIT_STRESS = 7

COMMAND_TIMEOUT = 10.0
POLL = 0.05  # how often the hold loop looks at the clock and the signal flag


class AgentFailure(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log(message: str) -> None:
    print(f"chaos-agent: {message}", file=sys.stderr, flush=True)


def run_command(argv: list[str], timeout: float = COMMAND_TIMEOUT,
                stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, shell=False, capture_output=True, text=True, timeout=timeout, check=False,
                              input=stdin)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AgentFailure(EXIT_TC, "TcFailed", f"{argv[0]}: {exc}") from None
