"""A finished experiment as the report commands read it, and checks on the files they write (PNG, HTML)."""

from __future__ import annotations

import re
import struct
from typing import Any

from tests.support.statuses import full_status

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which a valid PNG has first."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", data[:16]
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def assert_self_contained(page: str) -> None:
    """Nothing a browser would fetch: no script, stylesheet, font, frame or image but inline data."""
    assert not re.search(r"<script|<link|<iframe|@import|url\(|@font-face", page, re.IGNORECASE), page[:2000]
    for ref in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page):
        assert ref.startswith("data:image/png;base64,"), ref[:80]
    assert "http://" not in page and "https://" not in page


def experiment() -> dict[str, Any]:
    return {"metadata": {"name": "checkout-kill", "namespace": "shop"},
            "spec": {"fault": {"kind": "PodKill"}, "slos": {"maxErrorRate": 0.01, "maxLatencyP95": "500ms"}},
            "status": full_status().to_api()}
