"""LoadSpec caps (capped in the CRD and again in code) and the resolver port."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chaos_operator.load.generator import LoadSpec, run_phase, scheduled_count
from chaos_operator.load.resolver import ServiceNotFound, service_host
from tests.support.harness import StaticResolver

BASE = ("http://127.0.0.1:8080",)


@pytest.mark.parametrize(
    "changes",
    [
        {"rate": 5000.0},
        {"rate": 0.5},
        {"concurrency": 1},
        {"concurrency": 1000},
        {"timeout_s": 60.0},
        {"timeout_s": 0.001},
        {"method": "HEAD"},
        {"method": "POST"},
        {"base_urls": ("http://a.ns.svc:80", "https://10.0.0.1:8443")},
        {"path": "/health?full=1"},
        {"expected_statuses": frozenset({200})},
    ],
)
def test_valid_specs(changes: dict[str, Any]) -> None:
    spec = dataclasses.replace(LoadSpec(base_urls=BASE), **changes)
    assert spec.urls()[0].path.startswith("/")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate": 5000.1}, "rate"),
        ({"rate": 0.0}, "rate"),
        ({"rate": -1.0}, "rate"),
        ({"concurrency": 1001}, "concurrency"),
        ({"concurrency": 0}, "concurrency"),
        ({"timeout_s": 60.5}, "timeout"),
        ({"timeout_s": 0.0}, "timeout"),
        ({"method": "DELETE"}, "method"),
        ({"method": "get"}, "method"),
        ({"base_urls": ()}, "base URL"),
        ({"base_urls": ("ftp://x:21",)}, "base URL"),
        ({"base_urls": ("http://x:80/path",)}, "base URL"),
        ({"path": "health"}, "path"),
    ],
)
def test_invalid_specs_raise(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoadSpec(**{"base_urls": BASE, **changes})


@pytest.mark.parametrize("duration_s", [-1.0, 3600.5, 7200.0])
async def test_duration_is_capped_before_any_request(duration_s: float) -> None:
    with pytest.raises(ValueError, match="duration"):
        await run_phase(LoadSpec(base_urls=BASE), duration_s)


@pytest.mark.parametrize(
    ("rate", "duration_s", "count"),
    [(50, 60, 3000), (100, 1.0, 100), (3, 1.0, 3), (3, 0.5, 2), (0.5, 3.0, 2), (7, 0.0, 0), (5000, 3600, 18_000_000)],
)
def test_scheduled_count(rate: float, duration_s: float, count: int) -> None:
    assert scheduled_count(rate, duration_s) == count


async def test_static_resolver() -> None:
    resolver = StaticResolver({("shop", "checkout", 8080): ["http://127.0.0.1:1", "http://127.0.0.1:2"]})
    assert await resolver.resolve("shop", "checkout", 8080) == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
    for ns, name, port in (("shop", "checkout", 8081), ("other", "checkout", 8080), ("shop", "cart", 8080)):
        with pytest.raises(ServiceNotFound):
            await resolver.resolve(ns, name, port)


@pytest.mark.parametrize(
    ("namespace", "name", "port"),
    [("Shop", "checkout", 80), ("shop", "checkout.other", 80), ("shop", "a/b", 80), ("shop", "", 80),
     ("shop", "checkout", 0), ("shop", "checkout", 70000), ("shop", "x" * 64, 80)],
)
async def test_resolvers_refuse_anything_but_a_service_in_a_namespace(namespace: str, name: str, port: int) -> None:
    with pytest.raises(ValueError):
        await StaticResolver({}).resolve(namespace, name, port)


def test_cluster_dns_name() -> None:
    assert service_host("shop", "checkout") == "checkout.shop.svc"
    assert service_host("shop", "checkout", "svc.cluster.local") == "checkout.shop.svc.cluster.local"
