"""LoadDriver over load workers (docs/architecture.md, "Load workers"): the experiment's load is sent by the
pods of an indexed Job in its namespace; the operator only starts them and pulls what they measured.

Opening: the config ConfigMap, the token Secret and the Job (all owned by the experiment), then, bounded, every
worker pod Ready, then one absolute startAt POSTed to each. Per phase: wait out the phase on the engine's Clock,
note when it really began and ended (and when ``split`` was set), pull every worker's cumulative state until
the phase's seconds are closed (bounded: a lost worker never holds the run; its missing seconds lower the
coverage), merge exactly and cut (`loadworker/phases.py`). Closing deletes the three objects.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chaos_operator.adapters.workerpull import WorkerClient, WorkerUnavailable
from chaos_operator.engine.deps import LoadWorkersFailed
from chaos_operator.loadworker import job
from chaos_operator.loadworker.config import MAX_RUN_SECONDS
from chaos_operator.loadworker.phases import Instants, cut, second_of
from chaos_operator.loadworker.record import SecondRecord, merge
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import LoadSpan
from chaos_operator.models.timestamps import format_time
from chaos_operator.ports import Clock, ExperimentRef, KubeApi, LoadResult
from chaos_operator.targeting.pods import pod_info

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 180.0  # every worker pod Ready (image pull, scheduling), else the run fails LoadWorkersFailed
START_LEAD_S = 2.0  # startAt is this far ahead of the POST, so every worker has it before it is due
PULL_GRACE_S = 10.0  # after a phase's end and the load's timeout: how long its seconds are waited for
PULL_EVERY_S = 0.5
FOLLOW_EVERY_S = 2.0  # during a phase each worker's new seconds are pulled this often: a worker lost
# mid-phase costs only what it measured since, not the whole phase
RUN_SLACK_S = 120.0  # the schedule covers the phases and this much between them (status writes, reverts)
CALL_S = 30.0  # one API call of opening or closing
INDEX_KEY = "batch.kubernetes.io/job-completion-index"


class LoadObjects(Protocol):
    async def create_load_object(self, namespace: str, body: Mapping[str, Any]) -> str | None: ...

    async def delete_load_object(self, namespace: str, kind: str, name: str) -> bool: ...


@dataclass
class Worker:
    index: int
    base: str  # http://podIP:port
    records: dict[int, SecondRecord] = field(default_factory=dict)
    closed_before: int = 0  # every second below this has been pulled
    gone: bool = False  # unreachable through a whole pull: later phases ask once


def run_seconds(spec: ExperimentSpec) -> float:
    phases = spec.phases
    return min(MAX_RUN_SECONDS, float(phases.baseline) + float(phases.chaos) + float(phases.recovery) + RUN_SLACK_S)


class WorkerLoad:
    def __init__(self, kube: KubeApi, objects: LoadObjects, clock: Clock, spec: ExperimentSpec,
                 ref: ExperimentRef, token: str) -> None:
        self._kube, self._objects, self._clock = kube, objects, clock
        self._spec, self._ref, self._token = spec, ref, token
        self._names = job.names(ref.name, ref.uid)
        self.client = WorkerClient(token)
        self.workers: list[Worker] = []
        self.start_at = 0.0  # unix seconds
        self._start_mono = 0.0  # the same instant on the Clock

    async def open(self, image: str, ready_timeout_s: float, poll_s: float, operator_namespace: str) -> None:
        spec, ref, ns = self._spec, self._ref, self._ref.namespace
        total = run_seconds(spec)
        # Left by a run of this experiment that an operator restart cut short (a Baseline run starts over): its
        # workers took another start and are deleted; only pods of the Job created here are waited for.
        await self._delete_objects()
        job_uid: str | None = None
        for body in (job.network_policy(ref.name, ns, ref.uid, operator_namespace),
                     job.config_map(spec, ref.name, ns, ref.uid, total),
                     job.token_secret(ref.name, ns, ref.uid, self._token),
                     job.job_manifest(spec, ref.name, ns, ref.uid, image, total)):
            job_uid = await self._clock.bounded(self._objects.create_load_object(ns, body), CALL_S)
        if not job_uid:
            raise LoadWorkersFailed(f"the load Job {ns}/{self._names['job']} could not be created: one of that "
                                    "name is still there")
        self.workers = await self._ready(ready_timeout_s, poll_s, job_uid)
        self.place(self._clock.now().timestamp() + START_LEAD_S)
        refused = await asyncio.gather(*(self.client.start(w.base, self.start_at) for w in self.workers),
                                       return_exceptions=True)
        for worker, error in zip(self.workers, refused, strict=True):
            if isinstance(error, WorkerUnavailable):
                log.warning("%s: load worker %d did not take the start: %s", ref.name, worker.index, error)
                worker.gone = True
            elif isinstance(error, BaseException):
                raise error
        if all(w.gone for w in self.workers):
            raise LoadWorkersFailed(f"no load worker of Job {ns}/{self._names['job']} took the start")
        log.info("%s: %d load workers start at %.3f", ref.name, len(self.workers), self.start_at)

    async def _ready(self, timeout_s: float, poll_s: float, job_uid: str) -> list[Worker]:
        ns, wanted = self._ref.namespace, self._spec.load.workers
        deadline = self._clock.monotonic() + timeout_s
        while True:
            pods = await self._clock.bounded(
                self._kube.list_pods(ns, f"{job.UID_LABEL}={self._ref.uid}"), CALL_S)
            ready: dict[int, str] = {}
            for obj in pods:
                pod = pod_info(obj)
                index = pod.annotations.get(INDEX_KEY, pod.labels.get(INDEX_KEY, ""))
                owner = pod.owned_by("Job")
                if pod.terminating or owner is None or owner.uid != job_uid or not index.isdigit():
                    continue
                if pod.phase in ("Failed", "Succeeded"):
                    why = job.why_ended(obj)
                    raise LoadWorkersFailed(f"load worker pod {ns}/{pod.name} ended ({pod.phase}) before the start"
                                            + (f": {why}" if why else ""))
                if pod.ready and pod.pod_ip:
                    ready[int(index)] = pod.pod_ip
            if len(ready) >= wanted:
                return [Worker(i, worker_base(ip)) for i, ip in sorted(ready.items())]
            if self._clock.monotonic() >= deadline:
                raise LoadWorkersFailed(f"{len(ready)} of {wanted} load worker pods of Job {ns}/"
                                        f"{self._names['job']} were Ready after {timeout_s:g}s")
            await self._clock.sleep(poll_s)

    def phase_start(self) -> float:
        return max(self._clock.now().timestamp(), self.start_at)  # the first phase begins with the load

    async def run_phase(self, duration_s: float, stop: Any, split: Any = None) -> LoadResult:
        return await self.run_phase_from(self.phase_start(), duration_s, stop, split)

    async def run_phase_from(self, begun: float, duration_s: float, stop: Any, split: Any = None) -> LoadResult:
        """The phase from ``begun`` (unix seconds; an earlier daemon's, on a resume) for ``duration_s`` in all."""
        assert stop is None or isinstance(stop, asyncio.Event)
        assert split is None or isinstance(split, (asyncio.Event, float))
        clock = self._clock
        if (early := begun - clock.now().timestamp()) > 0:
            await clock.sleep(early)
        split_at: list[float] = [split] if isinstance(split, float) else []  # known: a picked-up chaos window

        async def note_split(event: asyncio.Event) -> None:
            await event.wait()
            split_at.append(clock.now().timestamp())

        noting = asyncio.create_task(note_split(split)) if isinstance(split, asyncio.Event) else None
        following = asyncio.create_task(self._follow())
        left = max(0.0, begun + duration_s - clock.now().timestamp())
        try:
            if stop is None:
                await clock.sleep(left)
            else:
                await clock.wait_for(stop, left)
        finally:
            following.cancel()
            if noting is not None:
                noting.cancel()
        # Never past its planned end: a picked-up phase whose end passed while no operator ran ends there.
        finished = max(begun, min(clock.now().timestamp(), begun + duration_s))
        return await self.recut(LoadSpan(start=begun, end=finished, split=split_at[0] if split_at else None))

    async def recut(self, span: LoadSpan) -> LoadResult:
        """The phase ``span`` cut from every worker's seconds (pulled until closed, bounded)."""
        end_s = span.start if span.end is None else span.end
        at = Instants(start_s=span.start - self.start_at, end_s=end_s - self.start_at,
                      started_at=_stamp(span.start), finished_at=_stamp(end_s),
                      split_s=None if span.split is None else span.split - self.start_at,
                      split_at=None if span.split is None else _stamp(span.split))
        first, end = second_of(at.start_s), second_of(at.end_s)
        await self._pull(first, end)
        phase = cut(merge([w.records[s] for s in sorted(w.records) if first <= s < end] for w in self.workers),
                    float(self._spec.load.rate), at)
        for worker in self.workers:  # phases never go back: what is cut is no longer needed
            worker.records = {s: r for s, r in worker.records.items() if s >= end}
            worker.closed_before = max(worker.closed_before, end)
        if phase.result.coverage is not None and phase.result.coverage < 1.0:
            log.info("%s: load coverage %.3f in seconds [%d, %d)", self._ref.name, phase.result.coverage, first, end)
        return LoadResult(result=phase.result, started_mono=self._start_mono + phase.first, samples=phase.samples,
                          split_offset_s=phase.split_offset_s, span=span)

    async def _follow(self) -> None:
        """While the phase runs: each worker's newly closed seconds, one bounded try each round."""
        while True:
            await self._clock.sleep(FOLLOW_EVERY_S)
            await asyncio.gather(*(self._pull_new(w) for w in self.workers if not w.gone))

    async def _pull_new(self, worker: Worker) -> None:
        try:
            state = await self.client.state(worker.base, worker.closed_before)
        except WorkerUnavailable:
            return  # the pull at the phase's end decides whether it is lost
        self._keep(worker, state.seconds, state.closed_before)

    @staticmethod
    def _keep(worker: Worker, seconds: list[SecondRecord], closed_before: int) -> None:
        worker.records.update((r.second, r) for r in seconds)
        worker.closed_before = max(worker.closed_before, closed_before)

    async def _pull(self, first: int, end: int) -> None:
        deadline = self._clock.monotonic() + float(self._spec.load.timeout) + PULL_GRACE_S
        await asyncio.gather(*(self._pull_one(w, first, end, deadline) for w in self.workers))

    async def _pull_one(self, worker: Worker, first: int, end: int, deadline: float) -> None:
        """Until the worker's seconds below ``end`` are closed (or it is done), or ``deadline``."""
        while True:
            try:
                state = await self.client.state(worker.base, max(first, worker.closed_before))
            except WorkerUnavailable as exc:
                reason = str(exc)
            else:
                worker.gone = False
                self._keep(worker, [r for r in state.seconds if r.second >= first], state.closed_before)
                if state.status == "done" or state.closed_before >= end:
                    return
                reason = f"its seconds are closed up to {state.closed_before}, not {end}"
                if state.start_at is None:
                    reason, worker.gone = "it never took the start", True
            if worker.gone or self._clock.monotonic() >= deadline:
                if not worker.gone:
                    log.warning("%s: load worker %d lost for seconds [%d, %d): %s", self._ref.name,
                                worker.index, first, end, reason)
                worker.gone = True
                return
            await self._clock.sleep(PULL_EVERY_S)

    def place(self, start_at: float) -> None:
        """The workers' one start (unix seconds), on this daemon's Clock too."""
        self.start_at = start_at
        self._start_mono = self._clock.monotonic() + (start_at - self._clock.now().timestamp())

    async def detach(self) -> None:
        await self.client.close()  # the workers go on: the next daemon picks the run up (engine/resume.py)

    async def close(self) -> None:
        """Delete the Job (its pods with it), its config and its token; each bounded, a failure only logged (the
        experiment owns them: its deletion collects whatever is left)."""
        await self.client.close()
        await self._delete_objects()

    async def _delete_objects(self) -> None:
        await delete_objects(self._objects, self._clock, self._ref)


async def delete_objects(objects: LoadObjects, clock: Clock, ref: ExperimentRef) -> None:
    """The experiment's load Job (its pods with it), config, token and policy; each call bounded, a failure
    logged."""
    names = job.names(ref.name, ref.uid)
    for kind, key in (("Job", "job"), ("ConfigMap", "config"), ("Secret", "token"), ("NetworkPolicy", "policy")):
        try:
            await clock.bounded(objects.delete_load_object(ref.namespace, kind, names[key]), CALL_S)
        except Exception as exc:
            log.warning("%s: could not delete load %s %s: %r", ref.name, kind, names[key], exc)


def _stamp(unix_s: float) -> str:
    return format_time(datetime.datetime.fromtimestamp(unix_s, datetime.UTC))


def worker_base(ip: str) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{job.STATE_PORT}"
