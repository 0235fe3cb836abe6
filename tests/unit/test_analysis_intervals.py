"""Wilson, Newcombe and the design effect against published and hand-computed answers."""

import pytest

from chaos_operator.analysis.intervals import design_effect, error_blocks, newcombe_difference, wilson, z_for

Z95 = z_for(0.95)


def test_z_is_the_two_sided_normal_quantile() -> None:
    assert z_for(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_for(0.98) == pytest.approx(2.326348, abs=1e-6)


def test_wilson_matches_newcombes_worked_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 -> 0.2553 to 0.3662.
    interval = wilson(81, 263, Z95)
    assert (round(interval.lo, 4), round(interval.hi, 4)) == (0.2553, 0.3662)


def test_wilson_at_zero_errors_is_not_degenerate() -> None:
    interval = wilson(0, 100, Z95)
    assert interval.lo == 0.0
    assert interval.hi == pytest.approx(Z95**2 / (100 + Z95**2))  # 0.0370: "0 of 100" is not "exactly 0"


def test_wilson_at_all_errors_mirrors_zero() -> None:
    interval = wilson(100, 100, Z95)
    assert interval.hi == 1.0
    assert interval.lo == pytest.approx(100 / (100 + Z95**2))


def test_wilson_without_requests_knows_nothing() -> None:
    assert (wilson(0, 0).lo, wilson(0, 0).hi) == (0.0, 1.0)


def test_newcombe_difference_matches_the_published_example() -> None:
    # Newcombe (1998), table II, method 10: 56/70 vs 48/80 -> difference 0.2000, 0.0524 to 0.3339.
    difference, interval = newcombe_difference(48, 80, 56, 70, Z95)
    assert difference == pytest.approx(0.2)
    assert (round(interval.lo, 4), round(interval.hi, 4)) == (0.0524, 0.3339)


def test_newcombe_difference_with_zero_errors_on_both_sides() -> None:
    # Both Wilson upper bounds, z²/(n + z²): 0/10 vs 0/20 -> -0.1611 to 0.2775 (as in Newcombe 1998, table II).
    difference, interval = newcombe_difference(0, 20, 0, 10, Z95)
    assert difference == 0.0
    assert (round(interval.lo, 4), round(interval.hi, 4)) == (-0.1611, 0.2775)


def test_design_effect_is_one_without_errors_or_clustering() -> None:
    assert design_effect([(0, 100)] * 10) == 1.0
    assert design_effect([(1, 100)] * 10) == 1.0  # errors spread evenly: less variance than binomial, kept at 1
    assert design_effect([(3, 100)]) == 1.0  # one block: nothing to estimate from


def test_design_effect_of_one_burst() -> None:
    # p = 10/400; squared residuals 7.5² + 3 × 2.5² = 75, times 4/3 = 100; binomial 400 × 0.025 × 0.975 = 9.75
    assert design_effect([(10, 100), (0, 100), (0, 100), (0, 100)]) == pytest.approx(100 / 9.75)


def test_a_phase_without_errors_borrows_the_clustering_of_the_other() -> None:
    bursty = [(10, 100), (0, 100), (0, 100), (0, 100)]
    assert design_effect([(0, 100)] * 4, bursty) == pytest.approx(design_effect(bursty))


def test_error_blocks_sum_whole_seconds_and_keep_a_short_tail() -> None:
    assert error_blocks([1, 0, 2, 0, 5], [10, 10, 10, 10, 10], 2) == [(1, 20), (2, 20), (5, 10)]
