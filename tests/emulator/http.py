"""Plain HTTP to the emulator, as any client would send it: (status, body, Warning headers)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from chaos_sandbox.emulator import EmulatorThread


def call(emu: EmulatorThread, method: str, path: str, body: Any = None,
         content_type: str = "application/json") -> tuple[int, dict[str, Any], list[str]]:
    # bytes go as they are (YAML, protobuf); anything else as JSON
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(emu.url + path, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), response.headers.get_all("Warning") or []
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc), []
