"""`python -m tests.integration.elected_operator --server URL --identity NAME --service NS/NAME/PORT=URL …`: one
real operator with leader election on, in a process of its own so a test can run two and SIGKILL the leader."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from chaos_operator.runtime.leader.rules import Timing
from chaos_operator.runtime.operator import LeadershipLost, OperatorConfig, run_operator
from tests.support.resolver import StaticResolver


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--identity", required=True)
    p.add_argument("--service", action="append", default=[], help="NS/NAME/PORT=URL answered by a test service")
    p.add_argument("--lease", type=float, nargs=3, default=(3.0, 2.0, 0.25), metavar=("LEASE", "RENEW", "RETRY"))
    p.add_argument("--image", default="registry.example/chaos-operator:test")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"{args.identity} %(asctime)s %(name)s: %(message)s")
    mapping: dict[tuple[str, str, int], list[str]] = {}
    for item in args.service:
        key, _, url = item.partition("=")
        ns, name, port = key.split("/")
        mapping[(ns, name, int(port))] = [url]
    config = OperatorConfig(server=args.server, resolver=StaticResolver(mapping), poll_s=0.2, image=args.image,
                            leader_election=True, lease=Timing(*args.lease), identity=args.identity)
    try:
        asyncio.run(run_operator(config))  # SIGTERM: kopf stops gracefully and the Lease is released
    except LeadershipLost:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
