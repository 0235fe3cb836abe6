"""Malformed objects through the API: the real operator meets >= 100 ChaosExperiments the API server did not
validate (tests/integration/malformed.py says what each is). Every one ends at once (InvalidSpec naming its
field, or fail-closed for an unreadable status), the operator never crashes or loops, and no pod is touched.

One emulator and one operator run for the whole module (`outcome`); the tests below read what happened."""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from chaos_sandbox.emulator import Emulator, EmulatorThread
from chaos_sandbox.emulator.store import Event
from chaos_sandbox.operator_thread import OperatorThread

from chaos_operator.models.crd import load_crd
from tests.integration.conftest import make_pod
from tests.integration.malformed import Malformed, cases
from tests.support.harness import OPERATOR_TOKEN, StaticResolver
from tests.support.waits import DONE, wait_for

NS = "shop"  # where the base manifest's targets are
CASES = cases()
RUNNING = ("Baseline", "Chaos", "Recovery", "Analyzing")  # phases only a (re-)run writes
MAX_STATUS_WRITES = 4  # Failed; fail-closed: Failed, its records recovered, Failed saying so. A loop goes on


def unvalidating_emulator() -> Emulator:
    """The emulator with schema validation off, where it has a switch for it (today it validates nothing)."""
    params = inspect.signature(Emulator).parameters
    for name, off in (("validate", False), ("validation", False), ("schema_validation", False)):
        if name in params:
            return cast(Emulator, cast(Any, Emulator)(**{name: off}))
    return Emulator()


@dataclass
class Writes:
    """Every change the API server stored, per object, as the operator made it (a store listener)."""

    status: dict[str, list[Any]] = field(default_factory=dict)  # experiment -> each new status
    other: dict[str, int] = field(default_factory=dict)  # experiment -> other modifications (finalizers ...)
    pods: list[str] = field(default_factory=list)  # pod events: none is expected once the test's pods exist
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Event) -> None:
        meta = event.obj.get("metadata") or {}
        with self.lock:
            if event.key == ("", "pods"):
                self.pods.append(f"{event.type} {meta.get('name')}")
            elif event.key == ("chaosoperator.dev", "chaosexperiments") and event.type == "MODIFIED":
                name = str(meta.get("name"))
                if (event.old or {}).get("status") != event.obj.get("status"):
                    self.status.setdefault(name, []).append(event.obj.get("status"))
                else:
                    self.other[name] = self.other.get(name, 0) + 1


@dataclass
class Outcome:
    final: dict[str, Any]  # object name -> final status, as stored
    writes: Writes
    pods_before: dict[str, str]
    pods_after: dict[str, str]
    operator_errors: list[str]
    undeletable: list[str]  # objects whose finalizer was never removed


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()[:300]}")


def name_of(index: int) -> str:
    return f"m{index:03d}"


@pytest.fixture(scope="module")
def outcome() -> Iterator[Outcome]:
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        with EmulatorThread(unvalidating_emulator(), timeout=60) as emu:  # a busy machine: slow, not broken
            emu.register_crd(load_crd())
            for i in range(3):
                make_pod(emu, NS, f"checkout-{i}", {"app": "checkout", "track": "stable"})
            pods_before = {p["metadata"]["name"]: p["metadata"]["resourceVersion"] for p in emu.list("pods", NS)}
            for i, case in enumerate(CASES):  # admitted as stored, before the operator starts
                emu.create("chaosexperiments", {**case.body, "metadata": {"name": name_of(i), "namespace": NS}}, NS)
                if case.bad_status:
                    emu.patch("chaosexperiments", NS, name_of(i), {"status": case.status}, subresource="status")
            writes = Writes()
            emu.call(emu.emulator.store.listeners.append, writes)
            resolver = StaticResolver({(NS, "checkout", 8080): ["http://127.0.0.1:9"]})  # never reached
            with OperatorThread(emu.url, resolver, token=OPERATOR_TOKEN, load_runner="inprocess"):
                with contextlib.suppress(AssertionError):  # the tests say what did not end
                    wait_for("every malformed object to end", lambda: all(
                        settled(case, raw_status(emu, name_of(i))) for i, case in enumerate(CASES)), 240, every=0.5)
                final = {name_of(i): raw_status(emu, name_of(i)) for i in range(len(CASES))}
                for i in range(len(CASES)):  # the finalizer's cleanup handler meets each one too
                    emu.delete("chaosexperiments", NS, name_of(i))
                with contextlib.suppress(AssertionError):
                    wait_for("every malformed object deleted", lambda: not emu.list("chaosexperiments", NS), 240, 0.5)
                stuck = sorted(o["metadata"]["name"] for o in emu.list("chaosexperiments", NS))
            pods_after = {p["metadata"]["name"]: p["metadata"]["resourceVersion"] for p in emu.list("pods", None)}
            yield Outcome(final, writes, pods_before, pods_after, errors.records, stuck)
    finally:
        logging.getLogger().removeHandler(errors)


def raw_status(emu: EmulatorThread, name: str) -> Any:
    return (emu.get("chaosexperiments", NS, name) or {}).get("status")


def settled(case: Malformed, status: Any) -> bool:
    """Whether the operator is done with it: a terminal phase it wrote (a bad status is never one it wrote)."""
    return isinstance(status, dict) and status.get("phase") in DONE and (
        not case.bad_status or status != case.status)


def test_at_least_a_hundred_objects_of_every_sort() -> None:
    assert len(CASES) >= 100 and len({c.id for c in CASES}) == len(CASES)
    assert sum(c.bad_status for c in CASES) >= 20


@pytest.mark.parametrize("index", [i for i, c in enumerate(CASES) if not c.bad_status],
                         ids=[c.id for c in CASES if not c.bad_status])
def test_a_malformed_spec_fails_naming_the_field(outcome: Outcome, index: int) -> None:
    case, status = CASES[index], outcome.final[name_of(index)] or {}
    assert (status.get("phase"), status.get("reason")) == ("Failed", "InvalidSpec"), status
    assert case.field in status.get("message", ""), (case.field, status.get("message"))


@pytest.mark.parametrize("index", [i for i, c in enumerate(CASES) if c.bad_status],
                         ids=[c.id for c in CASES if c.bad_status])
def test_an_unreadable_status_fails_closed(outcome: Outcome, index: int) -> None:
    name = name_of(index)
    written = outcome.writes.status.get(name, [])
    assert not [s for s in written if isinstance(s, dict) and s.get("phase") in RUNNING], written  # never re-run
    status = outcome.final[name]
    assert isinstance(status, dict), status
    assert (status.get("phase"), status.get("reason")) == ("Failed", "UnreadableStatus"), status


def test_each_object_gets_a_bounded_number_of_writes(outcome: Outcome) -> None:
    loops = {name: len(w) for name, w in outcome.writes.status.items() if len(w) > MAX_STATUS_WRITES}
    assert not loops, loops
    assert max(outcome.writes.other.values(), default=0) <= 4, outcome.writes.other  # kopf's finalizer, notes


def test_no_pod_is_touched(outcome: Outcome) -> None:
    assert outcome.pods_after == outcome.pods_before  # same pods, same resourceVersions: no helper pod either
    assert outcome.writes.pods == []


def test_the_operator_never_crashes(outcome: Outcome) -> None:
    assert outcome.operator_errors == []


def test_every_object_can_be_deleted(outcome: Outcome) -> None:
    assert outcome.undeletable == []
