from chaos_operator.cli.report.table import render

FIGURES = {"startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:01:00Z", "requests": 3000,
           "errors": 30, "errorRate": 0.01, "throughput": 49.8,
           "latency": {"mean": "12ms", "p50": "10ms", "p90": "20ms", "p95": "25ms", "p99": "40ms", "max": "90ms"}}
OBJ = {
    "metadata": {"name": "kill", "namespace": "shop"},
    "spec": {"fault": {"kind": "PodKill"}},
    "status": {
        "phase": "Completed", "verdict": "Failed", "score": 61, "grade": "MODERATE", "recoveryTime": "12s",
        "reason": "SLOsViolated", "message": "1 of 3 checks failed",
        "phases": {"baseline": FIGURES, "chaos": FIGURES},
        "checks": [{"name": "maxErrorRate", "phase": "chaos", "observed": "0.0100", "limit": "0.0050",
                    "passed": False}],
        "injections": [{"target": "checkout-1", "uid": "u", "state": "Recovered",
                        "injectedAt": "2026-01-01T00:01:00Z", "recoveredAt": "2026-01-01T00:01:01Z"}],
    },
}


def test_render_shows_phases_checks_and_verdict() -> None:
    text = render(OBJ)
    assert "shop/kill" in text and "PodKill" in text
    assert "verdict: Failed" in text and "score: 61" in text and "grade: MODERATE" in text
    assert "recovery time: 12s" in text
    lines = text.splitlines()
    baseline = next(line for line in lines if line.startswith("baseline"))
    assert baseline.split() == ["baseline", "3000", "30", "0.0100", "49.8/s", "10ms", "25ms", "40ms"]
    recovery = next(line for line in lines if line.startswith("recovery "))
    assert recovery.split()[1:] == ["-"] * 7  # not measured yet
    assert any(line.split()[:2] == ["maxErrorRate", "chaos"] and line.rstrip().endswith("FAIL") for line in lines)
    assert any(line.startswith("checkout-1") and "Recovered" in line for line in lines)


def test_render_pending_experiment() -> None:
    text = render({"metadata": {"name": "new", "namespace": "ns"}, "spec": {"fault": {"kind": "PodKill"}}})
    assert "Phase: Pending" in text and "verdict: -" in text
