"""Events and watchers of the API emulator's store: what one watch stream sees of each change."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from chaos_sandbox.emulator.selectors import Selector

Obj = dict[str, Any]


@dataclass
class Event:
    rv: int
    key: tuple[str, str]
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK
    obj: Obj
    old: Obj | None = None


@dataclass(eq=False)
class Watcher:
    key: tuple[str, str]
    namespace: str | None
    name: str | None
    selector: Selector
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)

    def _sees(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata", {})
        return ((self.namespace is None or meta.get("namespace") == self.namespace)
                and (self.name is None or meta.get("name") == self.name) and self.selector.matches(obj))

    def translate(self, event: Event) -> dict[str, Any] | None:
        """The event as this watcher sees it: an object leaving its selector is DELETED for it."""
        if event.type == "BOOKMARK":
            return {"type": "BOOKMARK", "object": event.obj}
        now, before = self._sees(event.obj), self._sees(event.old)
        if event.type == "DELETED":
            kind = "DELETED" if now or before else None
        elif now:
            kind = "MODIFIED" if before else "ADDED"
        else:
            kind = "DELETED" if before else None
        return {"type": kind, "object": event.obj} if kind else None
