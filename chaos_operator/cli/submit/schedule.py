"""Scheduled runs (`submit --schedule NAME`, run by the Helm chart's CronJob): no overlap, and history retention.

Both look at the experiments themselves, labelled with the schedule's name, not at Jobs: a killed Job leaves
its experiment running, and the next run must still see it.
"""

from __future__ import annotations

from typing import Any, Protocol

from chaos_operator.cli.submit.new_experiment import SCHEDULE_LABEL, SUBMITTED_ANNOTATION

TERMINAL = ("Completed", "Aborted", "Failed")


class ExperimentApi(Protocol):
    async def list_experiments(self, namespace: str, label_selector: str) -> list[dict[str, Any]]: ...

    async def delete_experiment(self, namespace: str, name: str, uid: str) -> bool: ...


def _phase(obj: dict[str, Any]) -> str:
    return str((obj.get("status") or {}).get("phase") or "Pending")


def _order(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("creationTimestamp", "")), str((meta.get("annotations") or {}).get(SUBMITTED_ANNOTATION, "")),
            str(meta.get("name", "")))


async def runs(api: ExperimentApi, namespace: str, schedule: str) -> list[dict[str, Any]]:
    """The schedule's experiments, oldest first."""
    return sorted(await api.list_experiments(namespace, f"{SCHEDULE_LABEL}={schedule}"), key=_order)


async def still_running(api: ExperimentApi, namespace: str, schedule: str) -> str | None:
    """Why a new run must not start (a previous run is not finished), or None."""
    busy = [o for o in await runs(api, namespace, schedule) if _phase(o) not in TERMINAL]
    if not busy:
        return None
    names = ", ".join(f"{o['metadata']['name']} ({_phase(o)})" for o in busy)
    return (f"schedule {schedule!r}: the previous run is still running in {namespace}: {names}; "
            "not starting a new one")


async def prune(api: ExperimentApi, namespace: str, schedule: str, keep: int) -> list[str]:
    """Delete the schedule's finished experiments older than the newest ``keep``; returns their names."""
    items = await runs(api, namespace, schedule)
    old = items[:max(0, len(items) - keep)]
    deleted = []
    for obj in old:
        meta = obj["metadata"]
        if _phase(obj) in TERMINAL and await api.delete_experiment(namespace, meta["name"], meta["uid"]):
            deleted.append(str(meta["name"]))
    return deleted
