"""Prometheus SLIs and halt conditions for one experiment, through the MetricsSource port."""

from __future__ import annotations

import datetime

from chaos_operator.engine.run import RunFigures
from chaos_operator.metrics.promql import judge, render
from chaos_operator.metrics.source import MetricsError, MetricsSource
from chaos_operator.models.spec import Prometheus
from chaos_operator.models.status import Check


class PromChecks:
    def __init__(self, source: MetricsSource, spec: Prometheus, namespace: str, experiment: str) -> None:
        self.source = source
        self.spec = spec
        self.namespace = namespace
        self.experiment = experiment

    async def probe(self, now: datetime.datetime) -> None:
        """Raises MetricsError when Prometheus cannot answer: checked before anything is touched."""
        await self.source.instant("vector(1)", now)

    async def halt_breach(self, chaos_started: datetime.datetime, now: datetime.datetime) -> Check | None:
        """The first halt condition over its max, as a failed check; None while all hold.

        A condition that cannot be read halts too: safety that cannot be verified is not assumed.
        """
        range_s = (now - chaos_started).total_seconds()
        for cond in self.spec.halt_when:
            query = render(cond.query, range_s, self.namespace, self.experiment)
            try:
                values = await self.source.instant(query, now)
            except MetricsError as exc:
                return Check(name=cond.name, phase="chaos", observed="unreadable", limit=f"<= {cond.max:g}",
                             passed=False).model_copy(update={"observed": f"unreadable: {exc}"[:64]})
            verdict = judge(values, cond.max, None)
            if verdict.value is not None and not verdict.passed:
                return Check(name=cond.name, phase="chaos", observed=verdict.observed, limit=verdict.limit,
                             passed=False)
        return None

    async def phase_checks(self, figures: RunFigures) -> list[Check]:
        """Each query in each of its phases, evaluated at the phase's end over the phase's window."""
        checks = []
        for query in self.spec.queries:
            for phase in query.phases:
                window = figures.window(phase)
                if window is None:
                    checks.append(Check(name=query.name, phase=phase, observed="not measured",
                                        limit=judge([], query.max, query.min).limit, passed=False))
                    continue
                start, end = window
                text = render(query.query, (end - start).total_seconds(), self.namespace, self.experiment)
                try:
                    values = await self.source.instant(text, end)
                except MetricsError as exc:
                    values = []
                    observed: str | None = f"error: {exc}"[:64]
                else:
                    observed = None
                verdict = judge(values, query.max, query.min)
                checks.append(Check(name=query.name, phase=phase, observed=observed or verdict.observed,
                                    limit=verdict.limit, passed=verdict.passed))
        return checks
