"""The kill switch: `chaos-operator pause|resume|pause-status`, and the operator's watch of it.

The state is the ConfigMap `chaos-operator-pause` in the operator's namespace, so RBAC can grant it to on-call
staff and plain kubectl works too:

    kubectl -n chaos-system create configmap chaos-operator-pause --from-literal=paused=true

`data.paused: "false"` (or no ConfigMap) means running. Anything else that cannot be read as false counts as
paused (fail closed), and so does a state the operator has not been able to read yet, or not for
UNREADABLE_PAUSED_S (a read that fails or hangs).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import getpass
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)
CONFIGMAP = "chaos-operator-pause"
COMMANDS = ("pause", "resume", "pause-status")
UNREADABLE_PAUSED_S = 30.0  # a kill switch not read this long counts as paused: an on-call pause may be unseen


@dataclass(frozen=True)
class PauseState:
    paused: bool
    why: str  # for the experiments it refuses and for `pause-status`


def parse(configmap: Mapping[str, Any] | None) -> PauseState:
    if configmap is None:
        return PauseState(False, "no pause ConfigMap")
    data = configmap.get("data") or {}
    flag = str(data.get("paused", "true")).strip().lower()
    if flag == "false":
        return PauseState(False, f"resumed {data.get('since', '')} by {data.get('by', 'unknown')}".strip())
    reason = data.get("reason") or "no reason given"
    note = "" if flag == "true" else f" (paused={flag!r} is not true or false: treated as paused)"
    return PauseState(True, f"paused {data.get('since', '')} by {data.get('by', 'unknown')}: {reason}{note}")


class ConfigMapReader(Protocol):
    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None: ...


class PauseWatcher:
    """Polls the ConfigMap (one GET per poll: cheap, and works whatever namespaces kopf watches)."""

    def __init__(self, kube: ConfigMapReader, namespace: str, poll_s: float = 0.5,
                 on_change: Callable[[bool], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.namespace = namespace
        self.poll_s = poll_s
        self.state: PauseState | None = None  # None: not read yet
        self._on_change = on_change or (lambda paused: None)
        self._monotonic = monotonic
        self._read_at = 0.0  # when the state was last read
        self._stale = False  # told on_change that an unreadable switch counts as paused

    def reason(self) -> str | None:
        """None while running; why, while paused (also while the state is unknown or too old)."""
        if self.state is None:
            return "the kill-switch state has not been read yet"
        unread = self._monotonic() - self._read_at
        if unread >= UNREADABLE_PAUSED_S:  # checked on every look: a hung read ends no loop that would say so
            if not self._stale and not self.state.paused:
                log.warning("kill switch unreadable for %.0fs: treated as paused", unread)
                self._on_change(True)
            self._stale = True
            return f"the kill switch could not be read for {unread:.0f}s (treated as paused after " \
                   f"{UNREADABLE_PAUSED_S:g}s)"
        return self.state.why if self.state.paused else None

    async def read_once(self) -> None:
        try:
            state = parse(await self.kube.get_configmap(self.namespace, CONFIGMAP))
        except Exception as exc:  # keep the last known state for UNREADABLE_PAUSED_S; unknown stays paused
            log.warning("could not read the kill switch %s/%s: %s", self.namespace, CONFIGMAP, exc)
            return
        was = True if self.state is None or self._stale else self.state.paused
        if self.state is None or state.paused != was:
            log.warning("kill switch: %s", state.why) if state.paused else log.info("kill switch: %s", state.why)
            self._on_change(state.paused)
        self.state, self._read_at, self._stale = state, self._monotonic(), False

    async def run(self) -> None:
        while True:
            await self.read_once()
            await asyncio.sleep(self.poll_s)


def add_commands(sub: Any, api_args: Callable[[argparse.ArgumentParser], None], default_ns: str) -> None:
    """pause, resume and pause-status subcommands of `chaos-operator`."""
    for name, text in zip(COMMANDS, ( "abort every running experiment and refuse new ones until resume",
                                    "let experiments run again",
                                    "print whether the operator is paused, and why"), strict=True):
        p = sub.add_parser(name, help=text)
        api_args(p)
        p.add_argument("--operator-namespace", default=default_ns, help="the operator's namespace")
        if name == "pause":
            p.add_argument("--reason", default="", help="why (shown in every refused experiment)")
        if name == "pause-status":
            p.add_argument("-o", "--output", choices=["text", "json"], default="text")


def run_command(args: argparse.Namespace) -> int:
    from chaos_operator.adapters.coordination import CoordinationClient
    from chaos_operator.adapters.kube import client_config

    kube = CoordinationClient(client_config(server=args.server, kubeconfig=args.kubeconfig))
    try:
        return asyncio.run(_command(kube, args))
    finally:
        kube.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry
        return "unknown"


async def _command(kube: Any, args: argparse.Namespace) -> int:
    ns = args.operator_namespace
    if args.command in ("pause", "resume"):
        since = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = {"paused": "true" if args.command == "pause" else "false", "since": since, "by": _user()}
        if args.command == "pause":
            data["reason"] = args.reason or "paused with chaos-operator pause"
        await kube.put_configmap(ns, CONFIGMAP, data)
        print(f"{'paused' if args.command == 'pause' else 'resumed'} (ConfigMap {ns}/{CONFIGMAP})")
        return 0
    state = parse(await kube.get_configmap(ns, CONFIGMAP))
    if args.output == "json":
        print(json.dumps({"paused": state.paused, "why": state.why}))
    else:
        print(f"{'PAUSED' if state.paused else 'running'}: {state.why}")
    return 0

