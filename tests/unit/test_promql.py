import math

import pytest

from chaos_operator.sli.promql import NO_DATA, judge, promql_duration, render


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "1s"), (1.0, "1s"), (59.1, "60s"), (120.0, "120s")])
def test_promql_duration(seconds: float, text: str) -> None:
    assert promql_duration(seconds) == text


def test_render_fills_placeholders() -> None:
    query = 'rate(x{namespace="$namespace",exp="$experiment"}[$__range])'
    assert render(query, 60, "shop", "kill-1") == 'rate(x{namespace="shop",exp="kill-1"}[60s])'


@pytest.mark.parametrize("name", ['a"b', "A", "x}", "a b", ""])
def test_render_refuses_odd_names(name: str) -> None:
    with pytest.raises(ValueError):
        render("up", 1, name, "exp")


@pytest.mark.parametrize(("values", "max_", "min_", "observed", "limit", "passed"), [
    ([0.01, 0.02], 0.05, None, "0.02", "<= 0.05", True),
    ([0.01, 0.07], 0.05, None, "0.07", "<= 0.05", False),
    ([0.05], 0.05, None, "0.05", "<= 0.05", True),  # inclusive
    ([80.0, 40.0], None, 50.0, "40", ">= 50", False),
    ([80.0, 60.0], None, 50.0, "60", ">= 50", True),
    ([5.0], 10.0, 1.0, "5", "<= 10 >= 1", True),
    ([0.5], 10.0, 1.0, "0.5", "<= 10 >= 1", False),
    ([], 1.0, None, NO_DATA, "<= 1", False),
    ([math.nan], 1.0, None, NO_DATA, "<= 1", False),
])
def test_judge(values: list[float], max_: float | None, min_: float | None, observed: str, limit: str,
               passed: bool) -> None:
    verdict = judge(values, max_, min_)
    assert (verdict.observed, verdict.limit, verdict.passed) == (observed, limit, passed)
