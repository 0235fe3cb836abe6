"""Maps a fault `kind` to its implementation: every module of `faults/kinds/` defines one, `FAULT`.

The kinds are found, not listed: a new module in `faults/kinds/` is registered by being there, and
tests/contract/test_fault_completeness.py checks that the CRD's kinds, the models and this registry agree.
"""

from __future__ import annotations

import importlib
import pkgutil

from chaos_operator.faults import kinds
from chaos_operator.faults.base import Fault


def _discover() -> dict[str, Fault]:
    found: dict[str, Fault] = {}
    for module in pkgutil.iter_modules(kinds.__path__):
        fault: Fault = importlib.import_module(f"{kinds.__name__}.{module.name}").FAULT
        if fault.kind in found:
            raise RuntimeError(f"fault kind {fault.kind} is defined twice (faults/kinds/{module.name}.py)")
        found[fault.kind] = fault
    return found


FAULTS: dict[str, Fault] = _discover()


def fault_for(kind: str) -> Fault:
    try:
        return FAULTS[kind]
    except KeyError:
        raise ValueError(f"no fault implementation for kind {kind!r}") from None
