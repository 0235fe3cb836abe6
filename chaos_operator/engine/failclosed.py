"""Fail closed: an experiment whose status cannot be read is never run again.

A status can fail validation after a version skew, a rollback, or a write made with validation off. Treating it
as a fresh experiment would inject again into a service that may still carry the first run's fault. Instead the
experiment is recovered by what can be known without the status — helper pods labelled with its UID, and every record
that still names a pod — and ends Failed/UnreadableStatus.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from chaos_operator.engine import lost_helpers
from chaos_operator.engine.deps import Deps
from chaos_operator.engine.recorder import Recorder, UnreadableStatus
from chaos_operator.engine.recover import recover_records
from chaos_operator.models.errors import describe
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import MAX_RECORDS, ExperimentStatus, Injection, Phase, RecordState
from chaos_operator.ports import ExperimentRef

log = logging.getLogger(__name__)
REASON = "UnreadableStatus"
_FINISHED = (RecordState.RECOVERED.value, RecordState.FAILED.value)


@dataclass(frozen=True)
class Unreadable:
    raw: Mapping[str, Any]
    problem: str  # which field, for the message


def read_status(raw: Any) -> ExperimentStatus | Unreadable:
    """The status found on the object, or what is wrong with it. No status at all is a fresh experiment."""
    if raw is None:
        return ExperimentStatus()
    if not isinstance(raw, Mapping):
        return Unreadable({}, f"status is a {type(raw).__name__}, not an object")
    try:
        return ExperimentStatus.model_validate(dict(raw))
    except ValidationError as exc:
        return Unreadable(raw, describe(exc, prefix="status"))


def live_records(raw: Mapping[str, Any]) -> list[Injection]:
    """Every record of an unreadable status that names a pod and does not say it is finished, read one by one:
    such a record may still hold a fault, so it is recovered."""
    found: list[Injection] = []
    items = raw.get("injections")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or item.get("state") in _FINISHED:
            continue
        helper = item.get("helperPod")
        try:
            found.append(Injection.model_validate({
                "target": item.get("target"), "uid": item.get("uid"), "state": RecordState.INJECTED.value,
                "helperPod": helper if isinstance(helper, str) else None}))
        except ValidationError:
            continue  # no usable pod name or uid: the helper sweep by owner still covers helper faults
    return found[:MAX_RECORDS]


def unreadable_recorder(deps: Deps, ref: ExperimentRef, found: Unreadable, generation: int | None,
                        known: Sequence[Injection] = ()) -> Recorder:
    """A recorder over the records of an unreadable status that may still be live, and over ``known`` ones (a
    running writer's own). Its first write replaces that status whole (its keys are cleared), so it needs no
    precondition."""
    mine = [record for record in known if record.state.value not in _FINISHED]
    theirs = [record for record in live_records(found.raw) if record.uid not in {r.uid for r in mine}]
    status = ExperimentStatus(injections=[*mine, *theirs][:MAX_RECORDS])
    return Recorder(deps.kube, deps.clock, ref, status, generation=generation, clear=dict(found.raw))


async def recover_unreadable(deps: Deps, ref: ExperimentRef, raw_spec: Any, recorder: Recorder) -> str:
    """Recover what can be known (its helpers: in the operator's namespace, by their UID label); returns one
    sentence of what was done."""
    helpers = await lost_helpers.delete_helpers_of(deps.kube, deps.operator_namespace, ref.uid)
    done = [f"{len(helpers)} helper pod(s) of this experiment deleted"]
    spec: ExperimentSpec | None = raw_spec if isinstance(raw_spec, ExperimentSpec) else None
    try:
        spec = spec or ExperimentSpec.model_validate(dict(raw_spec or {}))
    except (ValidationError, TypeError, ValueError):
        spec = None
    records = len(recorder.status.injections)
    if spec is not None and records:
        await recover_records(deps, spec, recorder)
        states = [record.state.value for record in recorder.status.injections]
        done.append(f"{states.count('Recovered')} of {records} recorded target(s) recovered")
    elif records:
        done.append(f"{records} recorded target(s) left as they are: the spec cannot be read either")
    return "; ".join(done)


async def fail_closed(deps: Deps, ref: ExperimentRef, found: Unreadable, raw_spec: Any,
                      generation: int | None, known: Sequence[Injection] = ()) -> None:
    log.warning("%s/%s: unreadable status (%s); failing closed", ref.namespace, ref.name, found.problem)
    recorder = unreadable_recorder(deps, ref, found, generation, known)
    why = f"the status could not be read ({found.problem})"[:600]
    # Write-ahead: Failed first, so no later daemon runs the experiment again whatever happens next.
    await recorder.finish(Phase.FAILED, None, REASON, f"{why}; the experiment is not run again; recovering")
    done = await recover_unreadable(deps, ref, raw_spec, recorder)
    message = f"{why}; the experiment is not run again: {done}"
    await recorder.finish(Phase.FAILED, None, REASON, message)
    await recorder.event("Failed", message, warning=True)


async def guarded(deps: Deps, ref: ExperimentRef, spec: ExperimentSpec, recorder: Recorder,
                  work: Awaitable[None]) -> None:
    """Run ``work`` (a run or a cleanup through ``recorder``): a status found unreadable on a re-read fails closed
    here too, with the records ``recorder`` knows, and the spec the work started with."""
    try:
        await work
    except UnreadableStatus as exc:
        await fail_closed(deps, ref, Unreadable(exc.raw, exc.problem), spec, recorder.generation,
                          recorder.status.injections)
