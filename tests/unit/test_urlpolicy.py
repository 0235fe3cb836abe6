"""The Prometheus URL policy (sli/urlpolicy.py): the allow-list, and link-local and metadata addresses always
refused, as written and as resolved."""

from __future__ import annotations

import pytest

from chaos_operator.sli import urlpolicy

PROM = "http://prometheus.monitoring:9090"


@pytest.mark.parametrize("url", [PROM, PROM + "/", " http://prometheus.monitoring:9090 "])
def test_an_allowed_url_passes(url: str) -> None:
    assert urlpolicy.url_refusal(url, [PROM]) is None


@pytest.mark.parametrize(("url", "allowed", "why"), [
    (PROM, [], "Prometheus is disabled in this installation"),
    ("http://kubernetes.default:443", [PROM], "not on this installation's allow-list"),
    ("http://prometheus.monitoring:9091", [PROM], "not on this installation's allow-list"),
    (PROM + "/admin", [PROM], "not on this installation's allow-list"),
    ("http://169.254.169.254/latest/meta-data", ["http://169.254.169.254/latest/meta-data"], "link-local"),
    ("http://[fe80::1]:9090", ["http://[fe80::1]:9090"], "link-local"),
    ("http://[::ffff:169.254.169.254]/", ["http://[::ffff:169.254.169.254]/"], "link-local"),
    ("http://[fd00:ec2::254]/", ["http://[fd00:ec2::254]/"], "metadata address"),
    ("http://metadata.google.internal/computeMetadata/v1", ["http://metadata.google.internal/computeMetadata/v1"],
     "metadata service"),
    ("http://METADATA.google.internal./", ["http://METADATA.google.internal./"], "metadata service"),
    ("file:///etc/passwd", ["file:///etc/passwd"], "not an http(s) URL"),
    ("http://user:pw@prometheus.monitoring:9090", ["http://user:pw@prometheus.monitoring:9090"], "credentials"),
])
def test_refused(url: str, allowed: list[str], why: str) -> None:
    refusal = urlpolicy.url_refusal(url, allowed)
    assert refusal is not None and why in refusal


def test_a_host_name_that_resolves_to_link_local_is_refused() -> None:
    assert urlpolicy.resolved_refusal("prom.example", ["10.0.0.7", "fd12::1"]) is None
    refusal = urlpolicy.resolved_refusal("prom.example", ["10.0.0.7", "169.254.169.254"])
    assert refusal is not None and "prom.example resolves to 169.254.169.254" in refusal
    assert urlpolicy.resolved_refusal("prom.example", ["fe80::1%eth0"]) is not None
