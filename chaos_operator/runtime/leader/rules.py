"""Pure rules of Lease-based leader election (the client-go semantics, coordination.k8s.io/v1).

A candidate never trusts another's clock: a Lease held by someone else expires when the candidate itself has
seen it unchanged (same resourceVersion) for its leaseDurationSeconds. The leader counts from the moment it
sent its last successful renewal, so it always believes its lease ends no later than any standby does.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LEASE_NAME = "chaos-operator-leader"


class Action(enum.Enum):
    CREATE = "create"  # no Lease yet
    TAKE = "take"  # free or expired: write ourselves as holder
    RENEW = "renew"  # ours: refresh renewTime
    WAIT = "wait"  # someone else holds a live lease


@dataclass(frozen=True)
class Timing:
    lease_s: float = 15.0  # how long a lease lives without renewal
    renew_deadline_s: float = 10.0  # a leader that could not renew for this long stops handling
    retry_s: float = 2.0  # between attempts

    def __post_init__(self) -> None:
        if not 0 < self.retry_s < self.renew_deadline_s < self.lease_s:
            raise ValueError("leader election needs 0 < retry period < renew deadline < lease duration "
                             f"(got {self.retry_s}, {self.renew_deadline_s}, {self.lease_s})")


@dataclass(frozen=True)
class Record:
    """What a Lease says; resource_version identifies one write of it."""

    holder: str | None
    lease_s: float | None
    transitions: int
    resource_version: str


@dataclass(frozen=True)
class Observation:
    """The last distinct record a candidate saw, and when (its own monotonic clock)."""

    record: Record
    seen_at: float


def parse(lease: Mapping[str, Any]) -> Record:
    spec = lease.get("spec") or {}
    duration = spec.get("leaseDurationSeconds")
    return Record(holder=spec.get("holderIdentity") or None,
                  lease_s=float(duration) if isinstance(duration, int | float) and duration > 0 else None,
                  transitions=int(spec.get("leaseTransitions") or 0),
                  resource_version=str((lease.get("metadata") or {}).get("resourceVersion") or ""))


def observe(previous: Observation | None, record: Record, now: float) -> Observation:
    """Restart the expiry clock only when the Lease really changed."""
    if previous is not None and previous.record.resource_version == record.resource_version:
        return previous
    return Observation(record, now)


def decide(obs: Observation | None, me: str, now: float, timing: Timing) -> Action:
    if obs is None:
        return Action.CREATE
    record = obs.record
    if record.holder == me:
        return Action.RENEW
    if record.holder is None:
        return Action.TAKE
    # An unreadable duration counts as ours, so a garbled Lease can neither be kept forever nor taken at once.
    duration = record.lease_s if record.lease_s is not None else timing.lease_s
    return Action.TAKE if now - obs.seen_at >= duration else Action.WAIT


def micro_time(at: datetime.datetime) -> str:
    """Kubernetes MicroTime, as the API server writes it."""
    return at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_body(namespace: str, me: str | None, timing: Timing, at: datetime.datetime, previous: Record | None,
               acquired_at: str | None) -> dict[str, Any]:
    """The Lease to write; with resourceVersion set, the API server refuses it if anyone wrote in between."""
    took_over = previous is not None and previous.holder != me and me is not None
    spec: dict[str, Any] = {
        "holderIdentity": me,
        # Whole seconds on the wire; rounded up so nobody sees a shorter lease than the leader keeps.
        "leaseDurationSeconds": max(1, int(-(-timing.lease_s // 1))),
        "acquireTime": acquired_at or micro_time(at),
        "renewTime": micro_time(at),
        "leaseTransitions": (previous.transitions if previous else 0) + (1 if took_over else 0),
    }
    if me is None:  # a release: free at once for the standby
        spec["leaseDurationSeconds"] = 1
    metadata: dict[str, Any] = {"name": LEASE_NAME, "namespace": namespace}
    if previous is not None:
        metadata["resourceVersion"] = previous.resource_version
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}
