"""One active operator: an asyncio elector over a coordination.k8s.io/v1 Lease (rules in engine/rules.py).

Why not `kubernetes.leaderelection` (the official client's elector): it runs its own blocking threads with
`time.sleep` and cannot be cancelled or stopped, builds its API client from the process-wide default
configuration (we never use that: a misconfigured pod must not reach a cluster by accident), calls `sys.exit`
on bad settings, accepts only whole seconds of at least 1, and bounds no API call, so a hung renewal can outlive
the lease. kopf's own peering is not Lease-based. This elector keeps those rules and is cancellable.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from chaos_operator.runtime.leader import rules
from chaos_operator.runtime.leader.rules import LEASE_NAME, Action, Observation, Timing

log = logging.getLogger(__name__)


class LeaseStore(Protocol):
    async def get(self, namespace: str, name: str, timeout: float) -> dict[str, Any] | None:
        """The Lease, or None when there is none."""
        ...

    async def create(self, namespace: str, body: Mapping[str, Any], timeout: float) -> dict[str, Any] | None:
        """The created Lease, or None when one already exists (someone was faster)."""
        ...

    async def replace(self, namespace: str, name: str, body: Mapping[str, Any],
                      timeout: float) -> dict[str, Any] | None:
        """The written Lease, or None on a resourceVersion conflict (someone wrote in between)."""
        ...

    def close(self) -> None: ...


class Elector:
    def __init__(self, store: LeaseStore, namespace: str, identity: str, timing: Timing,
                 on_change: Callable[[bool], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.namespace = namespace
        self.identity = identity
        self.timing = timing
        self._on_change = on_change or (lambda leading: None)
        self._mono = monotonic
        self._obs: Observation | None = None
        self._acquired_at: str | None = None
        self.renewed_at: float | None = None  # when our last successful write was sent (monotonic)
        self.leading = False
        self.last_contact: float | None = None  # last time the API answered us at all (readiness)

    @property
    def expires_at(self) -> float:
        """When our lease ends by our own count: no standby can take it before then."""
        assert self.renewed_at is not None
        return self.renewed_at + self.timing.lease_s

    async def acquire(self) -> None:
        """Wait until we hold the Lease."""
        log.info("leader election: %s is a candidate for Lease %s/%s", self.identity, self.namespace, LEASE_NAME)
        while not await self._attempt(self.timing.retry_s, taking=True):
            await asyncio.sleep(self.timing.retry_s)
        self._set_leading(True)
        log.info("leader election: %s now leads", self.identity)

    async def hold(self) -> None:
        """Renew until we cannot; returns once leadership is lost (never later than the renew deadline)."""
        while True:
            assert self.renewed_at is not None
            # Wake at the renew deadline at the latest, so a failing leader gives up on time.
            await asyncio.sleep(min(self.timing.retry_s,
                                    max(0.0, self.renewed_at + self.timing.renew_deadline_s - self._mono())))
            left = self.renewed_at + self.timing.renew_deadline_s - self._mono()
            if left > 0 and await self._attempt(left, taking=False):
                continue
            if self._obs is None or self._obs.record.holder != self.identity:
                break  # someone else holds it now, or it was deleted or released behind our back
            if self._mono() - self.renewed_at >= self.timing.renew_deadline_s:
                break
        self._set_leading(False)
        log.error("leader election: %s lost the Lease (last renewal %.1fs ago)", self.identity,
                  self._mono() - (self.renewed_at or 0))

    async def release(self) -> None:
        """Free the Lease at once for a standby (a clean shutdown); best effort."""
        if self._obs is None or self._obs.record.holder != self.identity:
            return
        body = rules.lease_body(self.namespace, None, self.timing, _now(), self._obs.record, self._acquired_at)
        try:
            await self.store.replace(self.namespace, LEASE_NAME, body, self.timing.retry_s)
        except Exception as exc:  # the standby will take over when the lease expires
            log.warning("leader election: could not release the Lease: %s", exc)
        self._set_leading(False)

    def _set_leading(self, leading: bool) -> None:
        if leading != self.leading:
            self.leading = leading
            self._on_change(leading)

    async def _attempt(self, timeout: float, taking: bool) -> bool:
        sent = self._mono()
        try:
            async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancellation
                return await self._try(sent, taking)
        except Exception as exc:  # an API error or a timeout: this round failed
            log.warning("leader election: attempt failed: %s", exc or type(exc).__name__)
            return False

    async def _try(self, sent: float, taking: bool) -> bool:
        per_call = self.timing.retry_s
        current = await self.store.get(self.namespace, LEASE_NAME, per_call)
        self.last_contact = self._mono()
        if current is not None:
            self._obs = rules.observe(self._obs, rules.parse(current), self._mono())
        elif self._obs is not None:
            self._obs = None  # deleted: start afresh
        action = rules.decide(self._obs, self.identity, self._mono(), self.timing)
        if action is Action.WAIT or (not taking and action is not Action.RENEW):
            return False
        previous = self._obs.record if self._obs is not None else None
        acquired = self._acquired_at if action is Action.RENEW else None
        body = rules.lease_body(self.namespace, self.identity, self.timing, _now(), previous, acquired)
        if action is Action.CREATE:
            written = await self.store.create(self.namespace, body, per_call)
        else:
            written = await self.store.replace(self.namespace, LEASE_NAME, body, per_call)
        if written is None:
            return False
        self._obs = Observation(rules.parse(written), self._mono())
        self._acquired_at = str(written.get("spec", {}).get("acquireTime") or body["spec"]["acquireTime"])
        self.renewed_at = sent
        return True


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
