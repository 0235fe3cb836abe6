"""PromQL templating and judging (pure).

A query may use three placeholders, filled in per evaluation:
``$__range`` — the phase window as a PromQL duration (``60s``), for ``rate(x[$__range])`` or
``max_over_time(...[$__range])``; ``$namespace`` and ``$experiment`` — the experiment's own names
(validated DNS labels, so they are safe inside a PromQL string literal).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NO_DATA = "no data"


def promql_duration(seconds: float) -> str:
    """Whole seconds, at least 1s: PromQL range selectors take no fractions."""
    return f"{max(1, math.ceil(seconds))}s"


def render(query: str, range_s: float, namespace: str, experiment: str) -> str:
    for name in (namespace, experiment):
        if not _DNS_LABEL.fullmatch(name):
            raise ValueError(f"{name!r} is not a DNS label")
    return (query.replace("$__range", promql_duration(range_s))
            .replace("$namespace", namespace).replace("$experiment", experiment))


@dataclass(frozen=True)
class Judgement:
    observed: str
    limit: str
    passed: bool
    value: float | None


def judge(values: Sequence[float], max_: float | None, min_: float | None) -> Judgement:
    """The worst series decides: the highest against ``max``, the lowest against ``min``.

    An empty result fails: an SLI that cannot be read cannot show the SLO held.
    """
    limit = " ".join(part for part in (f"<= {max_:g}" if max_ is not None else "",
                                       f">= {min_:g}" if min_ is not None else "") if part)
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return Judgement(NO_DATA, limit, False, None)
    high, low = max(finite), min(finite)
    over = max_ is not None and high > max_
    under = min_ is not None and low < min_
    # Show the value that broke a bound; when none did, the one nearest the upper (else lower) bound.
    shown = high if over or (not under and max_ is not None) else low
    return Judgement(f"{shown:.6g}", limit, not (over or under), shown)
