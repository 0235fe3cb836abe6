"""A pytest plugin that saves the API calls the operator made to the emulator (`chaos_sandbox.emulator.ALL_CALLS`).

Used only to make `data/operator_calls.json`, the recording the RBAC test reads beside the live calls:

    CHAOS_RECORD_CALLS=tests/packaging/data/operator_calls.json CHAOS_RECORD_MODE=cluster \
        .venv/bin/python -m pytest -p tests.packaging.record_calls tests/integration/test_pod_kill.py ...
    CHAOS_RECORD_MODE=namespaced runs the operator watching only `shop` (the scenarios' namespace).

The emulator records each request as an RBAC-style call with the bearer token it carried; the operator's calls are
the ones made with the integration harness's OPERATOR_TOKEN.
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
from chaos_sandbox.emulator import ALL_CALLS

import chaos_operator.runtime.operator
from tests.support.harness import OPERATOR_TOKEN
from tests.support.rbac import Call

_original_run = chaos_operator.runtime.operator.run_operator


SETUP_AGENT = "record-calls-setup"  # this plugin's own requests, which are not the operator's


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
if os.environ.get("CHAOS_RECORD_MODE") == "namespaced":
    chaos_operator.runtime.operator.run_operator = _namespaced_run


def pytest_unconfigure(config: pytest.Config) -> None:
    target = pathlib.Path(os.environ["CHAOS_RECORD_CALLS"])
    mode = os.environ.get("CHAOS_RECORD_MODE", "cluster")
    data = json.loads(target.read_text()) if target.exists() else {}
    recorded = {Call(c.verb, c.group, c.resource, c.subresource, c.namespace) for c in ALL_CALLS
                if c.user == OPERATOR_TOKEN}
    calls = recorded | {Call(*call) for call in data.get(mode, [])}  # runs add up
    data[mode] = sorted(list(call) for call in calls)
    lines = ",\n".join(f"  {json.dumps(mode)}: [\n" + ",\n".join(f"    {json.dumps(c)}" for c in rows) + "\n  ]"
                      for mode, rows in sorted(data.items()))
    target.write_text("{\n" + lines + "\n}\n")
