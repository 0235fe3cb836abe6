"""A pytest plugin that records the API calls the operator makes to the emulator (until the emulator records them).

Used only to make `data/operator_calls.json`, the fixture the RBAC test falls back to when the emulator of
this checkout has no call recording of its own:

    CHAOS_RECORD_CALLS=tests/packaging/data/operator_calls.json CHAOS_RECORD_MODE=cluster \
        .venv/bin/python -m pytest -p tests.packaging.record_calls tests/integration/test_pod_kill.py ...
    CHAOS_RECORD_MODE=namespaced runs the operator watching only `shop` (the scenarios' namespace).

Each HTTP request the emulator serves becomes a (verb, group, resource, subresource, namespace) tuple; the
integration tests create their own objects through the store directly, so what goes over HTTP is the operator.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import urllib.error
import urllib.request
from typing import Any

import pytest
from chaos_sandbox import emulator_server

import chaos_operator.operator
from tests.packaging.rbac import Call, call_of_request

RECORDED: set[Call] = set()
_original_call = emulator_server.Emulator.__call__
_original_run = chaos_operator.operator.run_operator


SETUP_AGENT = "record-calls-setup"  # this plugin's own requests, which are not the operator's


async def _recording_call(self: Any, raw_request: Any) -> Any:
    call = call_of_request(raw_request.method, raw_request.path, dict(raw_request.query))
    if call is not None and raw_request.headers.get("User-Agent") != SETUP_AGENT:
        RECORDED.add(call)
    return await _original_call(self, raw_request)


async def _namespaced_run(config: Any, *args: Any, **kwargs: Any) -> None:
    # kopf serves a listed namespace only once it sees the Namespace object (it lists and watches namespaces);
    # the scenarios store objects in `shop` without creating it, so it is created here first.
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}).encode()
    request = urllib.request.Request(f"{config.server}/api/v1/namespaces", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": SETUP_AGENT})
    try:
        await asyncio.to_thread(urllib.request.urlopen, request, timeout=10)
    except urllib.error.HTTPError as exc:
        if exc.code != 409:  # already there
            raise
    config.namespaces = ["shop"]
    await _original_run(config, *args, **kwargs)


# At import (`-p` loads this before any conftest), so the harness modules import the patched function.
emulator_server.Emulator.__call__ = _recording_call  # type: ignore[method-assign]
if os.environ.get("CHAOS_RECORD_MODE") == "namespaced":
    chaos_operator.operator.run_operator = _namespaced_run


def pytest_unconfigure(config: pytest.Config) -> None:
    target = pathlib.Path(os.environ["CHAOS_RECORD_CALLS"])
    mode = os.environ.get("CHAOS_RECORD_MODE", "cluster")
    data = json.loads(target.read_text()) if target.exists() else {}
    calls = RECORDED | {Call(*call) for call in data.get(mode, [])}  # runs add up
    data[mode] = sorted(list(call) for call in calls)
    lines = ",\n".join(f"  {json.dumps(mode)}: [\n" + ",\n".join(f"    {json.dumps(c)}" for c in rows) + "\n  ]"
                      for mode, rows in sorted(data.items()))
    target.write_text("{\n" + lines + "\n}\n")
