"""Bounded status, measured: one run with 1,000 targets through the real Recorder and ChaosWindow over HTTP to the
validating emulator; a store listener counts every stored status and its bytes (tests/support/status_scale.py).
`pytest -s` prints the figures (benchmarks/status_writes.py prints the same for any number of pods)."""

from __future__ import annotations

from chaos_sandbox.emulator import EmulatorThread

from tests.support.status_scale import run

KIB = 1024


def test_a_thousand_targets_keep_status_under_256_kib_in_a_few_writes(emulator: EmulatorThread) -> None:
    figures = run(emulator, 1000)
    print(f"\n{figures.line()}")
    assert figures.record_changes == 3000  # Pending, Injected and Recovered for each target
    assert figures.max_bytes <= 256 * KIB
    # Record changes are coalesced: a few writes per phase and round, not one per change (3,000 before).
    assert figures.writes <= 40
    records = figures.final["injections"]
    assert len(records) == 1000 and {r["state"] for r in records} == {"Recovered"}
    assert all(r.get("injectedAt") and r.get("recoveredAt") for r in records)  # each target's interval is kept
    assert figures.final["phase"] == "Completed"
    assert figures.final["summarised"]["targets"] == 1000  # said, not silently dropped
