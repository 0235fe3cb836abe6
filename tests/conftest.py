"""Shared fixtures. `emulator`: an in-process Kubernetes API server over real HTTP, our ChaosExperiment CRD served."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chaos_sandbox.emulator import EmulatorThread, kube_client_config
from kubernetes import client

from chaos_operator.crd import load_crd


@pytest.fixture()
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emu:
        emu.register_crd(load_crd())  # the CRD as shipped
        yield emu


@pytest.fixture()
def kube_config(emulator: EmulatorThread) -> client.Configuration:
    return kube_client_config(emulator.url)
