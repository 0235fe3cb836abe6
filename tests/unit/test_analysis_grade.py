import pytest

from chaos_operator.analysis.grade import degradation, grade


@pytest.mark.parametrize(("deg", "expected"), [
    (-0.2, "GOOD"), (0.0, "GOOD"), (0.49, "GOOD"), (0.5, "MODERATE"), (1.99, "MODERATE"),
    (2.0, "POOR"), (50.0, "POOR"),
])
def test_grade_boundaries(deg: float, expected: str) -> None:
    assert grade(deg) == expected


@pytest.mark.parametrize(("baseline", "chaos", "expected"), [
    (0.100, 0.150, 0.5),
    (0.100, 0.100, 0.0),
    (0.100, 0.080, -0.2),  # faster under chaos
    (0.020, 0.070, 2.5),
    (0.0, 0.0, 0.0),  # no division by zero
    (0.0, 0.002, 2.0),  # measured against the 1 ms floor
    (0.0002, 0.0006, 0.4),  # a 0.4 ms shift on a µs baseline is not "200 % slower"
])
def test_degradation(baseline: float, chaos: float, expected: float) -> None:
    assert degradation(baseline, chaos) == pytest.approx(expected)
