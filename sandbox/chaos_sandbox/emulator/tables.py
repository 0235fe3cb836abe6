"""Server-side tables (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), which `kubectl get` prints.

A CRD's `additionalPrinterColumns` are evaluated on each object (their simple JSONPath form: `.a.b`, `[N]`),
after a Name column, as the API server does; `date` cells become ages ("5m"). Built-in kinds get the columns
kubectl users know for pods, namespaces and deployments, and NAME/AGE for the others.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chaos_sandbox.emulator.resources import ResourceInfo

Obj = dict[str, Any]
_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")
_CAST: dict[str, Callable[[Any], Any]] = {"integer": int, "number": float, "boolean": bool}


def wants_table(accept: str) -> bool:
    return "as=Table" in accept.replace(" ", "")


def human_duration(seconds: float) -> str:
    """Kubernetes' short age format (apimachinery's HumanDuration): 45s, 3m20s, 2h5m, 3d4h, 400d, 2y30d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    return f"{years}y{days % 365}d" if years < 8 and days % 365 else f"{years}y"


def age(timestamp: Any) -> str | None:
    if not isinstance(timestamp, str):
        return None
    try:
        then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return human_duration((datetime.datetime.now(datetime.UTC) - then).total_seconds())


def json_path(obj: Any, path: str) -> Any:
    """The value at a printer column's JSONPath (`.status.phase`, `.spec.items[0].name`), or None."""
    path = path.strip().removeprefix("{").removesuffix("}").removeprefix("$")
    node, pos = obj, 0
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if match is None:
            return None
        key, index, quoted = match.groups()
        pos = match.end()
        if index is not None:
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
        else:
            node = node.get(key if key is not None else quoted) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def _cell(column: Mapping[str, Any], obj: Obj) -> Any:
    value = json_path(obj, str(column.get("jsonPath", "")))
    kind = column.get("type", "string")
    if value is None:
        return None
    if kind == "date":
        return age(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    try:
        return _CAST.get(kind, str)(value)
    except (TypeError, ValueError):
        return str(value)


def _pod_cells(pod: Obj) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    ready = sum(1 for c in containers if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in containers)
    phase = "Terminating" if pod["metadata"].get("deletionTimestamp") else status.get("reason") or status.get("phase")
    return [f"{ready}/{len(spec.get('containers') or [])}", phase or "Unknown", restarts,
            status.get("podIP") or "<none>", spec.get("nodeName") or "<none>"]


def _deployment_cells(deploy: Obj) -> list[Any]:
    spec, status = deploy.get("spec") or {}, deploy.get("status") or {}
    return [f"{status.get('readyReplicas') or 0}/{spec.get('replicas', 1)}", status.get("updatedReplicas") or 0,
            status.get("availableReplicas") or 0]


# kind -> (columns between Name and Age as (name, type, priority), cells for them)
BUILTIN: dict[str, tuple[Sequence[tuple[str, str, int]], Callable[[Obj], list[Any]]]] = {
    "Pod": ((("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "integer", 0), ("IP", "string", 1),
             ("Node", "string", 1)), _pod_cells),
    "Namespace": ((("Status", "string", 0),), lambda ns: [(ns.get("status") or {}).get("phase", "")]),
    "Deployment": ((("Ready", "string", 0), ("Up-to-date", "integer", 0), ("Available", "integer", 0)),
                   _deployment_cells),
}


def _definition(name: str, kind: str, priority: int = 0, description: str = "", fmt: str = "") -> dict[str, Any]:
    return {"name": name, "type": kind, "format": fmt, "description": description, "priority": priority}


def _row_object(obj: Obj, include: str) -> Any:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def table(info: ResourceInfo, items: list[Obj], rv: str, include: str = "Metadata") -> dict[str, Any]:
    """A `meta.k8s.io/v1` Table of `items` (one row each)."""
    name = _definition("Name", "string", 0, "Name must be unique within a namespace.", "name")
    if info.columns:
        columns = [name, *(_definition(str(c["name"]), str(c.get("type", "string")), int(c.get("priority", 0)),
                                       str(c.get("description", ""))) for c in info.columns)]
        rows = [[obj["metadata"]["name"], *(_cell(c, obj) for c in info.columns)] for obj in items]
    else:
        extra, cells = BUILTIN.get(info.kind, ((), lambda obj: []))
        columns = [name, *(_definition(n, t, p) for n, t, p in extra), _definition("Age", "string")]
        rows = [[obj["metadata"]["name"], *cells(obj), age(obj["metadata"].get("creationTimestamp"))]
                for obj in items]
    if not info.columns and info.kind == "Pod":  # Age comes before the wide columns in kubectl's pod table
        columns = [*columns[:4], columns[-1], *columns[4:-1]]
        rows = [[*row[:4], row[-1], *row[4:-1]] for row in rows]
    body_rows = [{"cells": row, "object": _row_object(obj, include)} for row, obj in zip(rows, items, strict=True)]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
            "columnDefinitions": columns, "rows": body_rows}
