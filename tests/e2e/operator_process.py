"""`python -m tests.e2e.operator_process --server URL --service NS/NAME/PORT=URL …`: the real operator in a
process of its own, so a test can SIGKILL it mid-chaos (a crash: no graceful stop, no recovery on the way out).
Prints `ready` once kopf runs; runs until killed (at most --max-seconds)."""

from __future__ import annotations

import argparse
import sys
import time

from chaos_sandbox.operator_thread import OperatorThread

from tests.support.harness import StaticResolver


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--service", action="append", default=[], help="NS/NAME/PORT=URL of the sandbox's Service proxy")
    p.add_argument("--max-seconds", type=float, default=120)
    args = p.parse_args()
    mapping: dict[tuple[str, str, int], list[str]] = {}
    for item in args.service:
        key, _, url = item.partition("=")
        ns, name, port = key.split("/")
        mapping[(ns, name, int(port))] = [url]
    operator = OperatorThread(args.server, StaticResolver(mapping))
    operator.start()
    print("ready", flush=True)
    time.sleep(args.max_seconds)
    operator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
