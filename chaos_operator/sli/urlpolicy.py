"""Which Prometheus URLs the operator may query (pure): an experiment names the URL, so without a policy any
user who may create an experiment could make the operator call any host and port (the API server, a cloud
metadata service, an admin port) from inside the cluster.

- Only URLs on the installation's allow-list (`--allow-prometheus-url`, the chart's `prometheus.allowedUrls`,
  by default the one URL given at install) are queried; an empty list refuses every Prometheus feature.
- Link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata hosts are refused always, even when
  listed, both as written in the URL and as its host name resolves.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
# Metadata services outside the link-local ranges (AWS over IPv6, Alibaba Cloud).
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")})
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal",
                            "metadata.azure.internal"})


def normalise(url: str) -> str:
    return url.strip().rstrip("/")


def address_refusal(address: str) -> str | None:
    """Why this address is never queried, or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone index is not part of the address
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if any(ip in net for net in LINK_LOCAL):
        return f"{address} is link-local (where cloud metadata services answer)"
    return None


def url_refusal(url: str, allowed: Sequence[str]) -> str | None:
    """Why the operator refuses to query this Prometheus URL, or None. Never echoes anything but the URL."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("http", "https") or not host:
        return f"Prometheus URL {url!r} is not an http(s) URL with a host"
    if parts.username or parts.password:
        return "Prometheus URL must not carry credentials"
    if host in METADATA_HOSTS:
        return f"Prometheus URL host {host} is a cloud metadata service: never queried"
    if why := address_refusal(host):
        return f"Prometheus URL refused: {why}"
    if not allowed:
        return ("Prometheus is disabled in this installation: no URL is allowed (the operator's "
                "--allow-prometheus-url, the chart's prometheus.allowedUrls)")
    if normalise(url) not in {normalise(a) for a in allowed}:
        return (f"Prometheus URL {normalise(url)} is not on this installation's allow-list "
                f"(prometheus.allowedUrls: {', '.join(sorted(normalise(a) for a in allowed))})")
    return None


def resolved_refusal(host: str, addresses: Iterable[str]) -> str | None:
    """Why a host name that resolves to these addresses is not queried, or None."""
    for address in addresses:
        if why := address_refusal(address):
            return f"Prometheus URL host {host} resolves to {why}"
    return None
