"""The one bounded poll of the test suite, and the one way to read and await an experiment's status."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

DONE = ("Completed", "Failed", "Aborted")  # terminal phases


class Objects(Protocol):
    """What the helpers need of an API server: `EmulatorThread.get`."""

    def get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None: ...


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 30.0, every: float = 0.05) -> Any:
    """Poll until probe() is truthy and return that value; AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(every)


def status_of(api: Objects, name: str, ns: str = "shop") -> dict[str, Any]:
    """The experiment's status ({} while it has none or is gone)."""
    obj = api.get("chaosexperiments", ns, name)
    return dict(obj.get("status") or {}) if obj else {}


def wait_phase(api: Objects, name: str, phases: tuple[str, ...] = DONE, timeout: float = 40,
               ns: str = "shop") -> dict[str, Any]:
    """The experiment's status once its phase is one of `phases` (by default: finished)."""
    return dict(wait_for(f"{name} in {'/'.join(phases)}",
                    lambda: (s := status_of(api, name, ns)).get("phase") in phases and s, timeout))
