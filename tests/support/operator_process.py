"""The real operator in a process of its own, so a test can SIGKILL it (a crash: no graceful stop, no recovery on
the way out) or run two.

    python -m tests.support.operator_process --server URL [--service NS/NAME/PORT=URL …] [--max-seconds S]
        the operator as the sandbox runs it (`chaos_sandbox.operator_thread.OperatorThread`); prints `ready` once
        kopf runs; runs until killed (at most --max-seconds); the load goes through load workers (the default;
        `--load-token-key K` gives them a key a later operator process shares) or `--load-runner inprocess`
    python -m tests.support.operator_process --server URL --identity NAME [--lease L R T] [--image I] [--service …]
        [--load-runner inprocess]
        one operator with leader election on (logs prefixed with NAME); SIGTERM stops kopf gracefully and
        releases the Lease; exits 1 when it lost its leadership

Each --service answers the load's resolution of that Service with URL (a test's service or the sandbox's proxy).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time

from chaos_operator.runtime.leader.rules import Timing
from chaos_operator.runtime.operator import LeadershipLost, OperatorConfig, run_operator
from tests.support.resolver import StaticResolver


def services(items: list[str]) -> StaticResolver:
    mapping: dict[tuple[str, str, int], list[str]] = {}
    for item in items:
        key, _, url = item.partition("=")
        ns, name, port = key.split("/")
        mapping[(ns, name, int(port))] = [url]
    return StaticResolver(mapping)


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m tests.support.operator_process")
    p.add_argument("--server", required=True)
    p.add_argument("--service", action="append", default=[], help="NS/NAME/PORT=URL the load's Service resolves to")
    p.add_argument("--max-seconds", type=float, default=120, help="without --identity: stop after this long")
    p.add_argument("--identity", help="run with leader election on, as this candidate")
    p.add_argument("--lease", type=float, nargs=3, default=(3.0, 2.0, 0.25), metavar=("LEASE", "RENEW", "RETRY"))
    p.add_argument("--image", default="registry.example/chaos-operator:test")
    p.add_argument("--load-runner", default="workers", choices=("workers", "inprocess"))
    p.add_argument("--load-token-key", default="", help="without --identity: the workers' token key (text)")
    args = p.parse_args()
    resolver = services(args.service)
    if args.identity is None:
        from chaos_sandbox.operator_thread import OperatorThread

        operator = OperatorThread(args.server, resolver, load_runner=args.load_runner,
                                  load_token_key=args.load_token_key.encode() or None)
        operator.start()
        print("ready", flush=True)
        time.sleep(args.max_seconds)
        operator.stop()
        return 0
    logging.basicConfig(level=logging.INFO, format=f"{args.identity} %(asctime)s %(name)s: %(message)s")
    config = OperatorConfig(server=args.server, resolver=resolver, poll_s=0.2, image=args.image,
                            leader_election=True, lease=Timing(*args.lease), identity=args.identity,
                            load_runner=args.load_runner)
    try:
        asyncio.run(run_operator(config))  # SIGTERM: kopf stops gracefully and the Lease is released
    except LeadershipLost:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
