"""The processes operator_scale.py starts: the API emulator, the load's target service, the operator."""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import sys

import yaml
from chaos_sandbox.emulator import EmulatorThread

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support (StaticResolver)


def run_emulator() -> None:
    """The API emulator in a process of its own (so this one's threads do not share its GIL): prints its URL,
    serves until its stdin closes."""
    with EmulatorThread() as emu:
        emu.register_crd(yaml.safe_load((ROOT / "crds" / "chaosoperator.dev_chaosexperiments.yaml").read_text()))
        print(emu.url, flush=True)
        sys.stdin.read()


def serve(port: int) -> None:
    """The load's target: a trivial aiohttp service in a process of its own (not sharing the emulator's GIL)."""
    from aiohttp import web

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def run_child(server: str, service: str, port: int, namespaces: list[str]) -> None:
    from chaos_operator.runtime.operator import OperatorConfig, run_operator
    from tests.support.resolver import StaticResolver

    # BENCH_OPERATOR_LOG=path keeps the operator's log, at BENCH_LOG_LEVEL (default INFO).
    logging.basicConfig(level=os.environ.get("BENCH_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s: %(message)s")
    resolver = StaticResolver({(ns, "checkout", 8080): [service] for ns in namespaces})
    config = OperatorConfig(server=server, resolver=resolver, metrics_port=port, metrics_host="127.0.0.1",
                            load_runner="inprocess")
    asyncio.run(run_operator(config))


def run(emulator: bool, serve_port: int | None, child: list[str] | None) -> None:
    if emulator:
        run_emulator()
    elif serve_port:
        serve(serve_port)
    elif child:
        run_child(child[0], child[1], int(child[2]), child[3:])
