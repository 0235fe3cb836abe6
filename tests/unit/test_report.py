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


def test_render_shows_each_comparison_with_its_interval_against_the_tolerance() -> None:
    obj = {**OBJ, "status": {**OBJ["status"], "analysis": [  # type: ignore[dict-item]
        {"metric": "latencyP95", "comparison": "baselineVsChaos", "class": "Degraded", "tolerance": 0.5,
         "samples": 5904, "baselineSamples": 2996, "estimate": 0.82, "interval": [0.61, 1.05]},
        {"metric": "errorRate", "comparison": "baselineVsRecovery", "class": "Inconclusive", "tolerance": 0.01,
         "samples": 500, "baselineSamples": 500, "estimate": 0.0, "interval": [-0.0107, 0.0107],
         "reason": "IntervalStraddles"},
    ]}}
    lines = render(obj).splitlines()
    chaos = next(line for line in lines if line.startswith("chaos vs baseline"))
    assert chaos.split()[3:] == ["latencyP95", "+82.0%", "[+61.0%,", "+105.0%]", "±50.0%", "5904", "vs", "2996",
                                 "Degraded"]
    recovery = next(line for line in lines if line.startswith("recovery vs baseline"))
    assert "[-1.07 pt, +1.07 pt]" in recovery and "±1.00 pt" in recovery
    assert recovery.endswith("Inconclusive (IntervalStraddles)")
