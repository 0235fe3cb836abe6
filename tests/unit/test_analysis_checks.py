from typing import Any

import pytest

from chaos_operator.analysis.checks import baseline_checks, evaluate
from chaos_operator.models.duration import Duration
from chaos_operator.models.spec import Slos
from chaos_operator.models.status import Check, Latency, PhaseResult, PhaseResults

ALL_SLOS = {"maxErrorRate": 0.01, "maxLatencyP95": "500ms", "maxLatencyP99": "1s",
            "maxLatencyDegradation": "50%", "recoveryWithin": "30s"}


def _phase(error_rate: float = 0.0, mean: float = 0.1, p95: float = 0.2, p99: float = 0.3,
           latency: bool = True, requests: int = 10000) -> PhaseResult:
    lat = None
    if latency:
        lat = Latency(mean=Duration(mean), p50=Duration(mean), p90=Duration(p95), p95=Duration(p95),
                      p99=Duration(p99), max=Duration(p99))
    return PhaseResult(started_at="t0", finished_at="t1", requests=requests, errors=round(requests * error_rate),
                       error_rate=error_rate, throughput=50.0, latency=lat)


def _phases(**kw: PhaseResult | None) -> PhaseResults:
    values: dict[str, PhaseResult | None] = {"baseline": _phase(), "chaos": _phase(), "recovery": _phase()}
    values.update(kw)
    return PhaseResults(**values)


def _slos(**kw: Any) -> Slos:
    return Slos.model_validate(kw)


def _find(checks: list[Check], name: str, phase: str) -> Check:
    [found] = [c for c in checks if c.name == name and c.phase == phase]
    return found


def test_without_slos_only_recovered() -> None:
    assert evaluate(Slos(), _phases(), 12.0, 60.0) == [
        Check(name="recovered", phase="recovery", observed="12s", limit="1m", passed=True)]


def test_all_slos_names_and_order() -> None:
    checks = evaluate(_slos(**ALL_SLOS), _phases(), 12.0, 60.0)
    assert [(c.name, c.phase) for c in checks] == [
        ("maxErrorRate", "chaos"), ("maxErrorRate", "recovery"),
        ("maxLatencyP95", "chaos"), ("maxLatencyP95", "recovery"),
        ("maxLatencyP99", "chaos"), ("maxLatencyP99", "recovery"),
        ("maxLatencyDegradation", "chaos"), ("recoveryWithin", "recovery"), ("recovered", "recovery")]
    assert all(c.passed for c in checks)


@pytest.mark.parametrize(("phase", "slos", "name", "result", "observed", "limit", "passed"), [
    ("chaos", {"maxErrorRate": 0.01}, "maxErrorRate", _phase(error_rate=0.01), "0.0100", "0.0100", True),
    ("chaos", {"maxErrorRate": 0.01}, "maxErrorRate", _phase(error_rate=0.0101), "0.0101", "0.0100", False),
    ("recovery", {"maxErrorRate": 0.0}, "maxErrorRate", _phase(error_rate=0.0), "0.0000", "0.0000", True),
    ("recovery", {"maxErrorRate": 0.0}, "maxErrorRate", _phase(error_rate=0.0001), "0.0001", "0.0000", False),
    ("chaos", {"maxErrorRate": 0.05}, "maxErrorRate", _phase(error_rate=0.0123), "0.0123", "0.0500", True),
    ("chaos", {"maxLatencyP95": "500ms"}, "maxLatencyP95", _phase(p95=0.5), "500ms", "500ms", True),
    ("chaos", {"maxLatencyP95": "500ms"}, "maxLatencyP95", _phase(p95=0.501), "501ms", "500ms", False),
    ("recovery", {"maxLatencyP95": "500ms"}, "maxLatencyP95", _phase(p95=0.512), "512ms", "500ms", False),
    ("recovery", {"maxLatencyP99": "1s"}, "maxLatencyP99", _phase(p99=1.0), "1s", "1s", True),
    ("recovery", {"maxLatencyP99": "1s"}, "maxLatencyP99", _phase(p99=1.2), "1.2s", "1s", False),
    ("chaos", {"maxLatencyP95": "500ms"}, "maxLatencyP95", _phase(latency=False), "no response", "500ms", False),
    ("chaos", {"maxLatencyP99": "1s"}, "maxLatencyP99", None, "no data", "1s", False),
    ("recovery", {"maxErrorRate": 0.01}, "maxErrorRate", None, "no data", "0.0100", False),
])
def test_phase_check(phase: str, slos: dict[str, Any], name: str, result: PhaseResult | None,
                     observed: str, limit: str, passed: bool) -> None:
    checks = evaluate(_slos(**slos), _phases(**{phase: result}), 1.0, 60.0)
    assert _find(checks, name, phase) == Check(name=name, phase=phase,  # type: ignore[arg-type]
                                               observed=observed, limit=limit, passed=passed)


@pytest.mark.parametrize(("limit", "baseline", "chaos", "observed", "limit_text", "passed"), [
    ("50%", _phase(mean=0.1), _phase(mean=0.15), "50.0%", "50%", True),  # exactly on the limit
    ("50%", _phase(mean=0.1), _phase(mean=0.1501), "50.1%", "50%", False),
    ("50%", _phase(mean=0.1), _phase(mean=0.1352), "35.2%", "50%", True),
    ("12.25%", _phase(mean=0.1), _phase(mean=0.09), "-10.0%", "12.25%", True),
    ("0%", _phase(mean=0.1), _phase(mean=0.1), "0.0%", "0%", True),
    ("50%", _phase(mean=0.1), _phase(latency=False), "no response", "50%", False),
    ("50%", _phase(latency=False), _phase(), "no response", "50%", False),
    ("50%", None, _phase(), "no data", "50%", False),
])
def test_degradation_check(limit: str, baseline: PhaseResult | None, chaos: PhaseResult, observed: str,
                           limit_text: str, passed: bool) -> None:
    checks = evaluate(_slos(maxLatencyDegradation=limit), _phases(baseline=baseline, chaos=chaos), 1.0, 60.0)
    assert _find(checks, "maxLatencyDegradation", "chaos") == Check(
        name="maxLatencyDegradation", phase="chaos", observed=observed, limit=limit_text, passed=passed)


@pytest.mark.parametrize(("recovery_s", "within", "observed", "passed"), [
    (0.0, "30s", "0ms", True),
    (30.0, "30s", "30s", True),
    (30.001, "30s", "30.001s", False),
    (None, "30s", "not recovered", False),
])
def test_recovery_within(recovery_s: float | None, within: str, observed: str, passed: bool) -> None:
    checks = evaluate(_slos(recoveryWithin=within), _phases(), recovery_s, 60.0)
    assert _find(checks, "recoveryWithin", "recovery") == Check(
        name="recoveryWithin", phase="recovery", observed=observed, limit="30s", passed=passed)


@pytest.mark.parametrize(("recovery_s", "window", "observed", "limit", "passed"), [
    (12.0, 60.0, "12s", "1m", True),
    (60.0, 60.0, "1m", "1m", True),
    (59.0, 90.0, "59s", "1m30s", True),
    (None, 60.0, "not recovered", "1m", False),
])
def test_recovered(recovery_s: float | None, window: float, observed: str, limit: str, passed: bool) -> None:
    assert _find(evaluate(Slos(), _phases(), recovery_s, window), "recovered", "recovery") == Check(
        name="recovered", phase="recovery", observed=observed, limit=limit, passed=passed)


def test_baseline_checks() -> None:
    slos = _slos(**ALL_SLOS)
    checks = baseline_checks(slos, _phase(error_rate=0.02, p95=0.4, p99=1.5))
    assert checks == [
        Check(name="maxErrorRate", phase="baseline", observed="0.0200", limit="0.0100", passed=False),
        Check(name="maxLatencyP95", phase="baseline", observed="400ms", limit="500ms", passed=True),
        Check(name="maxLatencyP99", phase="baseline", observed="1.5s", limit="1s", passed=False),
    ]
    assert baseline_checks(Slos(), _phase()) == []
