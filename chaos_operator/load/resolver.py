"""Where the load goes: a Service ``{name, port}`` in the experiment's namespace, as base URLs.

Load only ever targets a Service in the experiment's own namespace, so resolvers take
exactly (namespace, name, port) and nothing that could name another host.
"""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Protocol

# Namespaces are RFC 1123 labels, Service names RFC 1035 labels; this accepts both.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ServiceNotFound(Exception):
    """The Service does not resolve to any address."""


class ServiceResolver(Protocol):
    async def resolve(self, namespace: str, name: str, port: int) -> list[str]:
        """Base URLs (``http://host:port``) to spread the load over, round-robin."""
        ...


def check_service_ref(namespace: str, name: str, port: int) -> None:
    for what, value in (("namespace", namespace), ("service name", name)):
        if not _DNS_LABEL.match(value):
            raise ValueError(f"{what} {value!r} is not a DNS label")
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1..65535")


def service_host(namespace: str, name: str, domain: str = "svc") -> str:
    """The in-cluster DNS name of a Service; ``svc`` relies on the pod's resolv.conf search path."""
    check_service_ref(namespace, name, 1)
    return f"{name}.{namespace}.{domain}"


class ClusterDnsResolver:
    """Production resolver: the Service's cluster DNS name (kube-proxy spreads over endpoints)."""

    def __init__(self, domain: str = "svc", lookup_timeout_s: float = 5.0) -> None:
        self.domain = domain
        self.lookup_timeout_s = lookup_timeout_s

    async def resolve(self, namespace: str, name: str, port: int) -> list[str]:
        check_service_ref(namespace, name, port)
        host = service_host(namespace, name, self.domain)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.lookup_timeout_s):
                addresses = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:  # socket.gaierror is an OSError
            raise ServiceNotFound(f"service {namespace}/{name} does not resolve ({host}): {exc}") from exc
        if not addresses:
            raise ServiceNotFound(f"service {namespace}/{name} has no address ({host})")
        # The name, not the address: keeps Host headers and virtual hosting right.
        return [f"http://{host}:{port}"]

