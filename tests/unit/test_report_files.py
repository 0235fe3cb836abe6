"""report --png/--html from a status with a timeline: the picture's size, a page that fetches nothing, and the
message when matplotlib is absent (a real interpreter where importing it fails)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chaos_operator.cli.report.html import render_html
from chaos_operator.cli.report.plot import PlottingUnavailable, png
from tests.support.reports import assert_self_contained, experiment, png_size

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_picture_is_a_png_of_the_stated_size() -> None:
    assert png_size(png(experiment())) == (1000, 600)


def test_the_page_holds_the_figures_and_fetches_nothing() -> None:
    page = render_html(experiment())
    assert_self_contained(page)
    assert page.count("data:image/png;base64,") == 1
    for text in ("shop/checkout-kill", "SLOsViolated", ">6000<", ">96<", "812ms", "maxLatencyP95", "FAIL",
                 "checkout-7d9f8b6c4-x2k9p"):
        assert text in page, text
    # status.analysis: each estimate with its interval against the tolerance band
    for text in ("Comparisons with the baseline", "[+31.0%, +58.0%]", "±50.0%", "[+1.12 pt, +1.84 pt]", "±1.00 pt",
                 "Inconclusive (TooFewSeconds)"):
        assert text in page, text


def test_a_run_without_a_timeline_gets_a_page_without_a_picture() -> None:
    obj = experiment()
    del obj["status"]["timeline"]
    with pytest.raises(PlottingUnavailable, match="no timeline"):
        png(obj)
    page = render_html(obj)
    assert "No picture: no timeline" in page and "data:image" not in page


def test_without_matplotlib_the_message_says_how_to_install_it() -> None:
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from chaos_operator.cli.report.plot import png, PlottingUnavailable\n"
            "from tests.support.reports import experiment\n"
            "try:\n    png(experiment())\nexcept PlottingUnavailable as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "pip install 'chaos-operator[report]'" in done.stdout, done.stdout + done.stderr


def _purple_pixels(picture: bytes) -> int:
    """Pixels of the 'targets holding the fault' line's colour (#6a1b9a), read back with matplotlib."""
    import io

    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(picture), format="png")
    want = (0x6A / 255, 0x1B / 255, 0x9A / 255)
    return int(sum(1 for row in pixels for px in row
                   if all(abs(float(px[i]) - want[i]) < 0.03 for i in range(3))))


def test_the_picture_draws_how_many_targets_held_the_fault() -> None:
    run = experiment()
    with_records = _purple_pixels(png(run))
    run["status"]["injections"] = []
    assert with_records > 100 and _purple_pixels(png(run)) == 0
    page = render_html(experiment())
    assert "held until" in page
