"""Every kopf registration. Handlers parse, delegate to the engine, and map errors; no logic here."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf
from pydantic import ValidationError

from chaos_operator.engine import failclosed, lost_helpers, resume
from chaos_operator.engine.deps import Control, Deps
from chaos_operator.engine.failclosed import Unreadable
from chaos_operator.engine.recorder import Recorder
from chaos_operator.engine.recover import recover_records
from chaos_operator.engine.start import run_experiment
from chaos_operator.models import GROUP, PLURAL, VERSION
from chaos_operator.models.errors import describe
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import TERMINAL_PHASES, ExperimentStatus, Phase
from chaos_operator.ports import ExperimentRef

log = logging.getLogger(__name__)
FINALIZER = f"{GROUP}/cleanup"
# A stopping daemon (operator exit, resource deletion) recovers every record itself, helper pods included. kopf
# waits CANCELLATION_BACKOFF_S for that before it cancels the task (without a backoff it cancels at once, in the
# middle of the recovery), then CANCELLATION_TIMEOUT_S for the cancellation. On deletion kopf re-checks a daemon
# that has not ended only after the backoff (or on the next event of the object), so it is kept short: a longer
# recovery is cancelled and finished by the cleanup handler, or by the next operator's resume and sweep.
CANCELLATION_BACKOFF_S = 10.0
CANCELLATION_TIMEOUT_S = 120.0
OWNER_WAIT_S = 1.0  # the cleanup handler's retry delay while the run is still stopping


def settings() -> kopf.OperatorSettings:
    s = kopf.OperatorSettings()
    # Progress in annotations: status is ours alone, and the CRD schema would prune kopf's keys there.
    s.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    s.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    s.persistence.finalizer = FINALIZER
    s.posting.enabled = False  # recorder.py is the only writer of Events
    # kopf's own calls (finalizers, progress annotations) bounded too; watch streams have theirs below.
    s.networking.request_timeout = 60
    s.networking.connect_timeout = 10
    s.watching.server_timeout = 300
    s.watching.client_timeout = 330
    return s


def plain(raw: Any) -> Any:
    """A spec as the models take it: kopf's mapping views as dicts, nothing as {}, and anything else as
    it is, for the model to refuse (`dict()` of a string or a number raised, or made a dict of a list of pairs)."""
    if raw is None:
        return {}
    return dict(raw) if isinstance(raw, Mapping) else raw


def read_status(raw: Any) -> ExperimentStatus | Unreadable:
    """The status found on the object, or Unreadable: never a fresh one (that would run the experiment again)."""
    return failclosed.read_status(raw)


def recorder_for(deps: Deps, ref: ExperimentRef, status: ExperimentStatus, meta: Mapping[str, Any],
                 spec: ExperimentSpec | None) -> Recorder:
    """The recorder of a readable status; its fault kind (a metrics label) is the spec's, when the spec is valid."""
    return Recorder(deps.kube, deps.clock, ref, status, kind=None if spec is None else spec.fault.kind,
                    generation=meta.get("generation"), resource_version=meta.get("resourceVersion"),
                    observer=deps.observer)


def register(registry: kopf.OperatorRegistry, deps: Deps, credentials: kopf.ConnectionInfo,
             namespaces: tuple[str, ...] = ()) -> None:
    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return credentials

    @kopf.on.startup(registry=registry)
    async def sweep_helpers(**_: Any) -> None:
        # Helper pods left by a previous operator for experiments that finished or were deleted meanwhile.
        await lost_helpers.sweep(deps.kube, deps.operator_namespace)

    @kopf.daemon(GROUP, VERSION, PLURAL, registry=registry, id="experiment",
                 cancellation_backoff=CANCELLATION_BACKOFF_S, cancellation_timeout=CANCELLATION_TIMEOUT_S)
    async def experiment(body: kopf.Body, meta: kopf.Meta, stopped: kopf.DaemonStopped, **_: Any) -> None:
        ref = ExperimentRef(namespace=str(meta["namespace"]), name=str(meta["name"]), uid=str(meta["uid"]))
        with deps.owners.working(ref.uid):  # the cleanup handler waits while this is at work
            await _experiment(deps, ref, body, meta, stopped)

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id="cleanup")
    async def cleanup(meta: kopf.Meta, **_: Any) -> None:
        # One owner of cleanup at a time (engine/owners.py): a stopping run recovers what it injected; this
        # covers what it left, read afresh once it has ended (the deletion event's status is older).
        ref = ExperimentRef(namespace=str(meta["namespace"]), name=str(meta["name"]), uid=str(meta["uid"]))
        if deps.owners.busy(ref.uid):
            raise kopf.TemporaryError("the experiment's run is still stopping (it recovers its own faults)",
                                      delay=OWNER_WAIT_S)
        body = await deps.kube.get_experiment(ref.namespace, ref.name)
        if body is None or (body.get("metadata") or {}).get("uid") != ref.uid:
            return  # gone already: nothing of it can be recovered through its status
        await _cleanup(deps, ref, body)


async def _experiment(deps: Deps, ref: ExperimentRef, body: kopf.Body, meta: kopf.Meta,
                      stopped: kopf.DaemonStopped) -> None:
    status = read_status(body.get("status"))
    if isinstance(status, Unreadable):
        await failclosed.fail_closed(deps, ref, status, body.get("spec"), meta.get("generation"))
        return
    if status.phase in TERMINAL_PHASES:
        try:
            await resume.leftover_workers(deps, ref, ExperimentSpec.model_validate(plain(body.get("spec"))), status)
        except ValidationError:
            pass  # an invalid spec never started workers
        return
    try:
        spec = ExperimentSpec.model_validate(plain(body.get("spec")))
    except ValidationError as exc:
        # No retry: the same spec would fail the same way. Nothing has been touched.
        message = f"invalid spec: {describe(exc, prefix='spec')}"
        invalid = recorder_for(deps, ref, status, meta, None)
        await invalid.finish(Phase.FAILED, None, "InvalidSpec", message)
        await invalid.event("Failed", message, warning=True)
        return
    # `body` is live in kopf daemons: spec.abort changes show up here while the daemon runs.
    control = Control(abort_requested=lambda: bool((body.get("spec") or {}).get("abort")),
                      stopping=stopped.is_set)
    recorder = recorder_for(deps, ref, status, meta, spec)
    await failclosed.guarded(deps, ref, spec, recorder, run_experiment(deps, spec, recorder, control))


async def _cleanup(deps: Deps, ref: ExperimentRef, body: Mapping[str, Any]) -> None:
    meta = body.get("metadata") or {}
    status = read_status(body.get("status"))
    if isinstance(status, Unreadable):
        recorder = failclosed.unreadable_recorder(deps, ref, status, meta.get("generation"))
        await failclosed.recover_unreadable(deps, ref, body.get("spec"), recorder)
        return
    try:
        spec = ExperimentSpec.model_validate(plain(body.get("spec")))
    except ValidationError:
        return  # an invalid spec never injected anything
    recorder = recorder_for(deps, ref, status, meta, spec)
    await failclosed.guarded(deps, ref, spec, recorder, recover_records(deps, spec, recorder))
