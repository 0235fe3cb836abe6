"""LoadDriver over the aiohttp load generator: resolves the Service and converts figures to status."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from chaos_operator.analysis.recovery import SecondSample
from chaos_operator.engine.deps import LoadTargetNotFound, LoadTargetRefused
from chaos_operator.load.generator import DEFAULT_EXPECTED, LoadGenerator, LoadSpec, PhaseRun
from chaos_operator.load.resolver import ServiceNotFound, ServiceResolver
from chaos_operator.load.stats import PhaseSummary
from chaos_operator.models.duration import Duration
from chaos_operator.models.spec import ExperimentSpec
from chaos_operator.models.status import ErrorCounts, Latency, PhaseResult, Ramp
from chaos_operator.models.timestamps import format_time
from chaos_operator.ports import Clock, ExperimentRef, KubeApi, LoadResult


class HttpLoadFactory:
    def __init__(self, kube: KubeApi, resolver: ServiceResolver, clock: Clock) -> None:
        self._kube = kube
        self._resolver = resolver
        self._clock = clock

    async def __call__(self, spec: ExperimentSpec, experiment: ExperimentRef) -> HttpLoad:
        namespace, ref = experiment.namespace, spec.load.service
        if needs := needs_workers(spec):
            raise LoadTargetRefused(f"spec.load sets {', '.join(needs)}: sent only by load workers "
                                    "(docs/architecture.md, \"Load workers\"); this operator runs the load "
                                    "in-process (--load-runner=inprocess)")
        await check_service(self._kube, spec, namespace)
        try:
            urls = await self._resolver.resolve(namespace, ref.name, ref.port)
        except ServiceNotFound as exc:
            raise LoadTargetNotFound(str(exc)) from exc
        expected = frozenset(spec.load.success_codes) if spec.load.success_codes else DEFAULT_EXPECTED
        load = LoadSpec(base_urls=tuple(urls), path=spec.load.path, method=spec.load.method,
                        rate=float(spec.load.rate), concurrency=spec.load.concurrency,
                        timeout_s=float(spec.load.timeout), expected_statuses=expected)
        return HttpLoad(LoadGenerator(load), self._clock)


async def check_service(kube: KubeApi, spec: ExperimentSpec, namespace: str) -> None:
    """The Service of spec.load exists in the experiment's namespace, is not an ExternalName and has the port."""
    ref = spec.load.service
    svc = await kube.get_service(namespace, ref.name)
    if svc is None:
        raise LoadTargetNotFound(f"Service {namespace}/{ref.name} does not exist")
    if (svc.get("spec") or {}).get("type") == "ExternalName":
        raise LoadTargetRefused(f"Service {namespace}/{ref.name} is an ExternalName Service: load is sent only "
                                "to Services inside the cluster")
    ports = [p.get("port") for p in (svc.get("spec") or {}).get("ports") or []]
    if ref.port not in ports:
        raise LoadTargetNotFound(f"Service {namespace}/{ref.name} has no port {ref.port} (ports: {ports})")


def needs_workers(spec: ExperimentSpec) -> list[str]:
    """The fields of spec.load the in-operator generator cannot honour (credentials live in Secrets it never reads)."""
    load = spec.load
    needs = [f"method {load.method}"] if load.method not in ("GET", "HEAD") else []
    needs += [name for name, value in (("headers", load.headers), ("body", load.body), ("bodyFrom", load.body_from),
                                       ("auth", load.auth), ("tls", load.tls)) if value is not None]
    return needs + ([f"workers {load.workers}"] if load.workers != 1 else [])


class HttpLoad:
    def __init__(self, generator: LoadGenerator, clock: Clock) -> None:
        self._gen = generator
        self._clock = clock

    async def run_phase(self, duration_s: float, stop: Any, split: Any = None) -> LoadResult:
        assert stop is None or isinstance(stop, asyncio.Event)
        assert split is None or isinstance(split, asyncio.Event)
        started = self._clock.now()
        run = await self._gen.run_phase(duration_s, stop, split)
        finished = self._clock.now()
        # The generator times with the event loop's clock; the engine's durations all use Clock.monotonic().
        to_clock = self._clock.monotonic() - asyncio.get_running_loop().time()
        if run.after_split is None or run.split_mono is None or run.before_split is None:
            result = to_phase_result(run.summary, format_time(started), format_time(finished))
        else:
            # Only the requests intended once ``split`` was set; those before it are the ramp.
            at = format_time(started + datetime.timedelta(seconds=run.split_mono - run.started_mono))
            requests, errors = run.before_split
            ramp = Ramp(started_at=format_time(started), finished_at=at, requests=requests, errors=errors,
                        error_rate=errors / requests if requests else 0.0)
            result = to_phase_result(run.after_split, at, format_time(finished), ramp)
        split = None if run.split_mono is None else max(0.0, run.split_mono - run.started_mono)
        return LoadResult(result=result, started_mono=run.started_mono + to_clock, samples=to_samples(run),
                          split_offset_s=split)

    async def close(self) -> None:
        await self._gen.close()


def to_phase_result(s: PhaseSummary, started_at: str, finished_at: str, ramp: Ramp | None = None) -> PhaseResult:
    latency = None
    if s.latency is not None:
        lat = s.latency
        latency = Latency(mean=Duration(lat.mean), p50=Duration(lat.p50), p90=Duration(lat.p90),
                          p95=Duration(lat.p95), p99=Duration(lat.p99), max=Duration(lat.max))
    classes = ErrorCounts(timeout=s.error_classes.timeout, connection=s.error_classes.connection,
                          http5xx=s.error_classes.http_5xx, unexpected_status=s.error_classes.unexpected_status)
    return PhaseResult(started_at=started_at, finished_at=finished_at, requests=s.requests, errors=s.errors,
                       error_rate=min(1.0, s.error_rate), throughput=s.throughput, latency=latency,
                       error_classes=classes, ramp=ramp)


def to_samples(run: PhaseRun) -> list[SecondSample]:
    """Whole seconds only: a trailing partial second would read as a stall."""
    whole = int(run.summary.wall_s)
    return [SecondSample(offset_s=float(p.second), requests=p.requests, errors=p.errors, p95_s=p.p95,
                         p50_s=p.p50, latency_count=p.latency_count, latency_sum_s=p.latency_sum,
                         histogram=p.histogram)
            for p in run.timeline if p.second < whole]
