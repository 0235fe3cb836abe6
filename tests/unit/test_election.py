"""The pure Lease rules (engine/election.py), table-driven."""

from __future__ import annotations

import datetime

import pytest

from chaos_operator.runtime.leader import rules as election
from chaos_operator.runtime.leader.rules import Action, Observation, Record, Timing

T = Timing(lease_s=15, renew_deadline_s=10, retry_s=2)


def rec(holder: str | None, rv: str = "1", lease_s: float | None = 15, transitions: int = 0) -> Record:
    return Record(holder=holder, lease_s=lease_s, transitions=transitions, resource_version=rv)


@pytest.mark.parametrize(("obs", "now", "expected"), [
    (None, 0.0, Action.CREATE),  # no Lease at all
    (Observation(rec("me"), 0.0), 100.0, Action.RENEW),  # ours, however old
    (Observation(rec(None), 0.0), 0.0, Action.TAKE),  # released
    (Observation(rec("other"), 0.0), 14.9, Action.WAIT),  # live
    (Observation(rec("other"), 0.0), 15.0, Action.TAKE),  # unchanged for its whole duration
    (Observation(rec("other", lease_s=30), 0.0), 20.0, Action.WAIT),  # the holder's duration counts
    (Observation(rec("other", lease_s=None), 0.0), 14.0, Action.WAIT),  # garbled duration: ours
    (Observation(rec("other", lease_s=None), 0.0), 15.0, Action.TAKE),
])
def test_decide(obs: Observation | None, now: float, expected: Action) -> None:
    assert election.decide(obs, "me", now, T) is expected


def test_expiry_counts_from_when_the_lease_last_changed_not_from_its_timestamps() -> None:
    first = election.observe(None, rec("other", rv="5"), now=100.0)
    same = election.observe(first, rec("other", rv="5"), now=110.0)
    assert same.seen_at == 100.0  # unchanged: the clock keeps running
    renewed = election.observe(same, rec("other", rv="6"), now=112.0)
    assert renewed.seen_at == 112.0  # a renewal restarts it
    assert election.decide(renewed, "me", 126.9, T) is Action.WAIT
    assert election.decide(renewed, "me", 127.0, T) is Action.TAKE


@pytest.mark.parametrize(("lease", "renew", "retry"), [(10, 10, 2), (10, 5, 5), (10, 12, 2), (10, 5, 0)])
def test_timing_must_be_ordered(lease: float, renew: float, retry: float) -> None:
    with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
        Timing(lease_s=lease, renew_deadline_s=renew, retry_s=retry)


def test_parse_tolerates_a_garbled_lease() -> None:
    assert election.parse({}) == Record(None, None, 0, "")
    got = election.parse({"metadata": {"resourceVersion": "7"},
                          "spec": {"holderIdentity": "a", "leaseDurationSeconds": "x", "leaseTransitions": 3}})
    assert got == Record("a", None, 3, "7")


AT = datetime.datetime(2026, 12, 1, 14, 0, 0, 123456, tzinfo=datetime.UTC)


def test_lease_body_takeover_counts_a_transition_and_carries_the_precondition() -> None:
    body = election.lease_body("ops", "me", Timing(2.5, 2, 0.5), AT, rec("other", rv="9", transitions=4), None)
    assert body["metadata"] == {"name": "chaos-operator-leader", "namespace": "ops", "resourceVersion": "9"}
    assert body["spec"] == {"holderIdentity": "me", "leaseDurationSeconds": 3,  # rounded up, never down
                            "acquireTime": "2026-12-01T14:00:00.123456Z", "renewTime": "2026-12-01T14:00:00.123456Z",
                            "leaseTransitions": 5}


def test_lease_body_renewal_keeps_acquire_time_and_a_release_frees_at_once() -> None:
    renew = election.lease_body("ops", "me", T, AT, rec("me", transitions=2), "2026-12-01T13:00:00.000000Z")
    assert renew["spec"]["acquireTime"] == "2026-12-01T13:00:00.000000Z"
    assert renew["spec"]["leaseTransitions"] == 2
    release = election.lease_body("ops", None, T, AT, rec("me"), None)
    assert release["spec"]["holderIdentity"] is None and release["spec"]["leaseDurationSeconds"] == 1
    assert "resourceVersion" not in election.lease_body("ops", "me", T, AT, None, None)["metadata"]
