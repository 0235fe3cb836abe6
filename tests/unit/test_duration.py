import pytest

from chaos_operator.models.duration import Duration, Percent, format_duration, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("2s", 2.0), ("1m", 60.0), ("1m30s", 90.0), ("1.5h", 5400.0),
    ("0.25s", 0.25), ("1h1m1s", 3661.0), ("10ms", 0.01), ("999999ms", 999.999),
])
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "5 s", "-1s", "1d", "10x", "s", "1.s", "1.2345s", "1m 30s",
                                  "$(id)s", "1s;", "1s\n", "1h2m3s4ms5s"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0ms"), (0.0123456, "12.346ms"), (0.5, "500ms"), (1.0, "1s"), (59.9994, "59.999s"),
    (60.0, "1m"), (90.0, "1m30s"), (3600.0, "1h"), (3725.5, "1h2m5.5s"),
])
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0.001, 0.0999, 1.5, 61.25, 7322.125])
def test_format_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, abs=0.0005)


def test_duration_and_percent_strings() -> None:
    assert str(Duration.parse("1m30s")) == "1m30s"
    assert float(Duration.parse("250ms")) == 0.25
    assert str(Percent(50.0)) == "50%"
