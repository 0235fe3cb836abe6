"""Status bytes and writes for one experiment with many targets (docs/architecture.md, "Bounded writes").

    .venv/bin/python benchmarks/status_writes.py [--pods 1000]

Runs the real Recorder and ChaosWindow against the API emulator (tests/support/status_scale.py) and prints the
number of status writes, the largest stored status and the bytes written. Not part of the test suite."""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from chaos_sandbox.emulator import EmulatorThread

from chaos_operator.models.crd import load_crd
from tests.support.status_scale import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    args = parser.parse_args()
    with EmulatorThread(timeout=120) as emulator:
        emulator.register_crd(load_crd())  # validates every write, as a real API server does
        print(run(emulator, args.pods).line())


if __name__ == "__main__":
    main()
