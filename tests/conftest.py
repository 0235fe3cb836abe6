"""Shared fixtures. `emulator`: an in-process Kubernetes API server with the ChaosExperiment CRD served.

Its own tests store small made-up experiments (`spec: {abort: false}`) to check API semantics, so it does not validate
custom objects against the CRD; `validating_emulator` does, as a real API server and the sandbox do (the integration
tests' `emulator` is that one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chaos_sandbox.emulator import Emulator, EmulatorThread, kube_client_config
from kubernetes import client

from chaos_operator.models.crd import load_crd


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
