"""Shared fixtures. `emulator`: an in-process Kubernetes API server with the ChaosExperiment CRD served.

Its own tests store small made-up experiments (`spec: {abort: false}`) to check API semantics, so it does not validate
custom objects against the CRD; `validating_emulator` does, as a real API server and the sandbox do (the integration
tests' `emulator` is that one).

Tiers: every test carries exactly one tier marker (docs/testing.md), given here by its directory; a test marked
`kernel_vm` is in that tier wherever it lives. A test file in a directory of no tier is a collection error.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from chaos_sandbox.emulator import Emulator, EmulatorThread, kube_client_config
from kubernetes import client

from chaos_operator.models.crd import load_crd

TESTS = pathlib.Path(__file__).parent
# directory under tests/ -> its tier's marker (registered in pyproject.toml; `make test-<tier>` runs one)
TIER_OF_DIR = {"unit": "unit", "contract": "contract", "agent": "agent", "emulator": "emulator",
               "integration": "integration", "sandbox": "sandbox", "e2e": "e2e", "packaging": "packaging",
               "vm": "kernel_vm"}
TIERS = frozenset(TIER_OF_DIR.values())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            where = item.path.relative_to(TESTS).parts[0]
        except ValueError:
            continue  # not one of ours
        if item.get_closest_marker("kernel_vm") is None:
            tier = TIER_OF_DIR.get(where)
            if tier is None:
                raise pytest.UsageError(f"{item.nodeid}: tests/{where}/ is in no tier (tests/conftest.py TIER_OF_DIR)")
            item.add_marker(getattr(pytest.mark, tier))
        marked = {m.name for m in item.iter_markers()} & TIERS
        if len(marked) != 1:
            raise pytest.UsageError(f"{item.nodeid}: one tier marker expected, found {sorted(marked)}")


@pytest.fixture()
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(Emulator(validate=False)) as emu:
        emu.register_crd(load_crd())  # the CRD as shipped
        yield emu


@pytest.fixture()
def validating_emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emu:
        emu.register_crd(load_crd())
        yield emu


@pytest.fixture()
def kube_config(emulator: EmulatorThread) -> client.Configuration:
    return kube_client_config(emulator.url)
