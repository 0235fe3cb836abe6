"""Prometheus SLIs and halt conditions for one experiment, through the MetricsSource port."""

from __future__ import annotations

import asyncio
import datetime

from chaos_operator.engine.run import RunFigures
from chaos_operator.models.spec import HaltCondition, Prometheus
from chaos_operator.models.status import Check
from chaos_operator.ports import Clock
from chaos_operator.sli.promql import NO_DATA, judge, render
from chaos_operator.sli.source import MetricsError, MetricsRefused, MetricsSource

UNREADABLE_GRACE_S = 10.0  # a halt condition that cannot be read this long halts (the CRD says so too)
QUERY_TIMEOUT_S = 10.0  # each query, on the Clock: a hung Prometheus reads as unreadable, never as a wait


class PromChecks:
    def __init__(self, source: MetricsSource, clock: Clock, spec: Prometheus, namespace: str,
                 experiment: str) -> None:
        self.source = source
        self.clock = clock
        self.spec = spec
        self.namespace = namespace
        self.experiment = experiment
        self._unreadable_since: dict[str, datetime.datetime] = {}  # halt condition -> first failed read in a row

    async def _query(self, query: str, at: datetime.datetime) -> list[float]:
        try:
            return await self.clock.bounded(self.source.instant(query, at), QUERY_TIMEOUT_S)
        except TimeoutError:
            raise MetricsError(f"prometheus query took over {QUERY_TIMEOUT_S:g}s") from None

    async def probe(self, now: datetime.datetime) -> None:
        """Raises MetricsError when Prometheus cannot answer: checked before anything is touched."""
        await self._query("vector(1)", now)

    async def halt_breach(self, chaos_started: datetime.datetime, now: datetime.datetime) -> Check | None:
        """A halt condition that halts, as a failed check; None while all hold.

        The conditions are queried at once, each bounded by QUERY_TIMEOUT_S, and the first breach to arrive is
        returned (the queries still running are cancelled): 8 slow conditions cost one query's time, not 8.
        A condition halts when its value is over its max, when its query returns no series (unless it says
        ``onMissing: ignore``), and when it could not be read for UNREADABLE_GRACE_S in a row: safety that
        cannot be verified is not assumed, but one lost scrape or a Prometheus restart does not end the run.
        """
        range_s = (now - chaos_started).total_seconds()
        tasks = [asyncio.ensure_future(self._judge(cond, range_s, now)) for cond in self.spec.halt_when]
        try:
            for answer in asyncio.as_completed(tasks):
                breach = await answer
                if breach is not None:
                    return breach
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return None

    async def _judge(self, cond: HaltCondition, range_s: float, now: datetime.datetime) -> Check | None:
        query = render(cond.query, range_s, self.namespace, self.experiment)
        limit = f"<= {cond.max:g}"
        try:
            values = await self._query(query, now)
        except MetricsError as exc:
            since = self._unreadable_since.setdefault(cond.name, now)
            if (now - since).total_seconds() >= UNREADABLE_GRACE_S:
                return Check(name=cond.name, phase="chaos", observed=f"unreadable: {exc}"[:64], limit=limit,
                             passed=False)
            return None
        self._unreadable_since.pop(cond.name, None)
        verdict = judge(values, cond.max, None)
        if verdict.value is None:
            if cond.on_missing == "halt":
                return Check(name=cond.name, phase="chaos", observed=NO_DATA, limit=limit, passed=False)
            return None
        if not verdict.passed:
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
                    values = await self._query(text, end)
                except MetricsError as exc:
                    values = []
                    observed: str | None = f"error: {exc}"[:64]
                else:
                    observed = None
                verdict = judge(values, query.max, query.min)
                checks.append(Check(name=query.name, phase=phase, observed=observed or verdict.observed,
                                    limit=verdict.limit, passed=verdict.passed))
        return checks


async def refusal(checks: PromChecks | None, clock: Clock) -> tuple[str, str] | None:
    """Why spec.prometheus cannot be used, as (reason, message); None when its server answers."""
    if checks is None:
        return "PrometheusUnreachable", "spec.prometheus is set but no metrics client is configured"
    try:
        await checks.probe(clock.now())
    except MetricsError as exc:
        return "PrometheusRefused" if isinstance(exc, MetricsRefused) else "PrometheusUnreachable", str(exc)
    return None
