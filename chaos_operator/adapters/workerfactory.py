"""The load workers' factory: `open_load` starts an experiment's workers (adapters/workers.py), `adopt` rejoins
those an earlier daemon started (docs/architecture.md, "A run survives the operator": their pods are found by the
experiment's UID, their one start read from their own state), `discard` deletes them."""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from chaos_operator.adapters.load import check_service
from chaos_operator.adapters.workers import (
    CALL_S,
    INDEX_KEY,
    READY_TIMEOUT_S,
    LoadObjects,
    Worker,
    WorkerLoad,
    delete_objects,
    worker_base,
)
from chaos_operator.loadworker import job
from chaos_operator.loadworker.record import WorkerState
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.ports import Clock, ExperimentRef, KubeApi, LoadResult
from chaos_operator.targeting.pods import pod_info

log = logging.getLogger(__name__)
NO_SECONDS = 2**40  # `since` past any second: a state without its seconds, just the start


async def rejoin(load: WorkerLoad, kube: KubeApi, clock: Clock, ref: ExperimentRef) -> str | None:
    """Place ``load`` on the workers still serving this run; None when it is, else why their data is gone."""
    job_name = job.names(ref.name, ref.uid)["job"]
    pods = await clock.bounded(kube.list_pods(ref.namespace, f"{job.UID_LABEL}={ref.uid}"), CALL_S)
    found: dict[int, str] = {}
    for pod in map(pod_info, pods):
        index = pod.annotations.get(INDEX_KEY, pod.labels.get(INDEX_KEY, ""))
        owner = pod.owned_by("Job")
        if pod.terminating or owner is None or owner.name != job_name or not index.isdigit() or not pod.pod_ip:
            continue
        found[int(index)] = pod.pod_ip
    if not found:
        return f"no load worker pod of Job {ref.namespace}/{job_name} is left"
    workers = [Worker(i, worker_base(ip)) for i, ip in sorted(found.items())]
    states = await asyncio.gather(*(load.client.state(w.base, NO_SECONDS) for w in workers), return_exceptions=True)
    starts = {w.index: s.start_at for w, s in zip(workers, states, strict=True)
              if isinstance(s, WorkerState) and s.start_at is not None}
    if not starts:
        return f"no load worker of Job {ref.namespace}/{job_name} answered with the run's start"
    # Every worker took the one start; one that answers another (it cannot: restartPolicy Never) is not this run's.
    start_at = collections.Counter(starts.values()).most_common(1)[0][0]
    for worker in workers:
        worker.gone = starts.get(worker.index) != start_at
    load.workers = workers
    load.place(start_at)
    return None


class WorkerLoadFactory:
    def __init__(self, kube: KubeApi, objects: LoadObjects, clock: Clock, image: str, key: bytes,
                 operator_namespace: str, ready_timeout_s: float = READY_TIMEOUT_S, poll_s: float = 1.0) -> None:
        self._kube, self._objects, self._clock = kube, objects, clock
        self._image, self._key, self._operator_namespace = image, key, operator_namespace
        self._ready_timeout_s, self._poll_s = ready_timeout_s, poll_s

    async def discard(self, spec: ExperimentSpec, experiment: ExperimentRef) -> None:
        """Delete the workers a previous daemon left for this experiment (an operator SIGKILLed mid-run): they
        would send load to the end of their schedule for a run that is over."""
        await delete_objects(self._objects, self._clock, experiment)

    async def adopt(self, spec: ExperimentSpec, experiment: ExperimentRef) -> WorkerLoad | None:
        """The workers an earlier daemon started for this run, when they still serve its data; else None."""
        load = WorkerLoad(self._kube, self._objects, self._clock, spec, experiment,
                          job.state_token(self._key, experiment.uid))
        try:
            gone = await rejoin(load, self._kube, self._clock, experiment)
        except Exception as exc:  # the API or every worker unreachable: the same as gone, for this daemon
            gone = repr(exc)
        if gone is None:
            return load
        log.warning("%s: cannot rejoin the load workers: %s", experiment.name, gone)
        await load.detach()
        return None

    async def __call__(self, spec: ExperimentSpec, experiment: ExperimentRef) -> WorkerLoad | NoLoad:
        await check_service(self._kube, spec, experiment.namespace)
        if spec.dry_run:  # it ends before any phase: no Job, and no request sent
            return NoLoad()
        load = WorkerLoad(self._kube, self._objects, self._clock, spec, experiment,
                          job.state_token(self._key, experiment.uid))
        try:
            await load.open(self._image, self._ready_timeout_s, self._poll_s, self._operator_namespace)
        except BaseException:
            await load.close()
            raise
        return load


class NoLoad:
    """A dry run's load: the Service was checked; nothing is started and no phase may be measured."""

    async def run_phase(self, duration_s: float, stop: Any, split: Any = None) -> LoadResult:
        raise RuntimeError("a dry run measures no phase")

    async def close(self) -> None:
        return None
