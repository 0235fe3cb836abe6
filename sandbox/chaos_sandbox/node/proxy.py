"""Service addressing in the sandbox: a small kube-proxy stand-in and the resolver the operator's load uses.

Why a proxy: the load generator resolves a Service once per experiment and then sends to those URLs for
the whole run, as it does in a cluster, where the one address is the Service's ClusterIP and kube-proxy
spreads connections over whatever endpoints are Ready *at connect time*. Resolving to pod addresses instead
would pin the load to pods that PodKill then deletes, and replacements would never see traffic. So each
Service port gets one TCP proxy on 127.0.0.1 (its stable "ClusterIP:port"), and `SandboxResolver` maps
`(namespace, service, port)` to it. Each proxy also listens, when it can, on the Service's own port at a loopback
"ClusterIP" of its own (`cluster_ip`, salted with the run's token: two sandboxes on one machine with the same
Service would otherwise want the same address and port), which the node names in the `/etc/hosts` of operator pods
(`node/incluster.py`), so a process that resolves `<service>.<namespace>.svc` as in a cluster reaches it.

Like kube-proxy: the choice is per connection (round-robin here, over the Endpoints' Ready addresses as
they are when the client connects); established connections stay on their backend; when a backend
connection ends (the pod's process exited or was killed) the client's connection is closed as well, so
the client sees the failure and reconnects to a live endpoint. With no Ready endpoint a connection is
closed at once, as kube-proxy rejects it.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from chaos_operator.load.resolver import ServiceNotFound, check_service_ref
from chaos_sandbox.node.podprocess import abort_socket

log = logging.getLogger(__name__)
Backend = tuple[str, int]
Dial = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
ServiceKey = tuple[str, str, int]  # namespace, service, port
CHUNK = 64 * 1024


def cluster_ip(key: ServiceKey, salt: str = "") -> str:
    """The Service's stable loopback address, 127.100-199.x.y, from its namespace and name (ports share it)."""
    digest = hashlib.sha256(f"{salt}/{key[0]}/{key[1]}".encode()).digest()
    return f"127.{100 + digest[0] % 100}.{digest[1]}.{1 + digest[2] % 254}"


def hosts_entries(proxies: Mapping[ServiceKey, ServiceProxy]) -> str:
    """`/etc/hosts` lines naming each Service's ClusterIP as cluster DNS would."""
    lines = {f"{address[0]} {name}.{ns}.svc {name}.{ns}.svc.cluster.local"
             for (ns, name, _), proxy in proxies.items() if (address := proxy.cluster_address) is not None}
    return "".join(line + "\n" for line in sorted(lines))


@dataclass(eq=False)
class _Conn:
    backend: Backend
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None


@dataclass(eq=False)
class ServiceProxy:
    key: ServiceKey
    dial: Dial
    salt: str = ""  # the run's token (cluster_ip)
    backends: list[Backend] = field(default_factory=list)
    conns: set[_Conn] = field(default_factory=set)
    accepted: int = 0  # client connections so far: how often the load opened a new one (tests read it)
    _rr: itertools.count[int] = field(default_factory=itertools.count)
    _server: asyncio.Server | None = None
    _sock: socket.socket = field(init=False)
    _cluster: socket.socket | None = field(init=False, default=None)
    _cluster_server: asyncio.Server | None = None

    def __post_init__(self) -> None:
        # Bound and listening at once, so the address is known (and queues connections) before start().
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=256)
        self._sock.setblocking(False)
        try:
            self._cluster = socket.create_server((cluster_ip(self.key, self.salt), self.key[2]), backlog=256)
            self._cluster.setblocking(False)
        except OSError as exc:  # that port taken on all addresses by another program: by name it is unreachable
            log.warning("proxy %s: no ClusterIP listener: %s", self.key, exc)

    @property
    def cluster_address(self) -> Backend | None:
        return (cluster_ip(self.key, self.salt), self.key[2]) if self._cluster is not None else None

    @property
    def address(self) -> Backend:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, sock=self._sock)
        if self._cluster is not None:
            self._cluster_server = await asyncio.start_server(self._handle, sock=self._cluster)

    async def close(self) -> None:
        for conn in list(self.conns):
            self._drop(conn)
        for server, sock in ((self._server, self._sock), (self._cluster_server, self._cluster)):
            if server is not None:
                server.close()
                await server.wait_closed()
            elif sock is not None:
                sock.close()

    def set_backends(self, backends: Sequence[Backend]) -> None:
        self.backends = list(backends)

    def drop_backend(self, backend: Backend) -> int:
        """Reset every connection to `backend` (its pod is being torn down); returns how many."""
        doomed = [conn for conn in self.conns if conn.backend == backend]
        for conn in doomed:
            self._drop(conn)
        return len(doomed)

    def _drop(self, conn: _Conn) -> None:
        self.conns.discard(conn)
        if conn.upstream is not None:
            abort_socket(conn.upstream)
        conn.client.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        backends = self.backends
        if not backends:
            writer.close()  # no Ready endpoint: refuse, as kube-proxy does
            return
        conn = _Conn(backends[next(self._rr) % len(backends)], writer)
        self.conns.add(conn)
        try:
            try:
                async with asyncio.timeout(1.0):
                    up_reader, upstream = await self.dial(*conn.backend)
            except Exception as exc:  # refused, timed out, or refused by the route check
                log.debug("proxy %s: cannot reach %s: %s", self.key, conn.backend, exc)
                return
            conn.upstream = upstream
            async with asyncio.TaskGroup() as group:
                group.create_task(_pipe(reader, upstream))
                group.create_task(_pipe(up_reader, writer))
        except* (OSError, asyncio.IncompleteReadError, RuntimeError):
            pass  # either side went away: that is how every proxied connection ends
        finally:
            self._drop(conn)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until either side ends; ending raises so the other direction stops too."""
    while data := await source.read(CHUNK):
        sink.write(data)
        await sink.drain()
    raise ConnectionResetError("peer closed")


class SandboxResolver:
    """`ServiceResolver` for the sandbox: a Service port's proxy URL, its stable in-sandbox address."""

    def __init__(self) -> None:
        self._urls: dict[ServiceKey, str] = {}

    def update(self, urls: Mapping[ServiceKey, str]) -> None:
        self._urls = dict(urls)  # replaced whole: readers on other threads see one table or the other

    def urls(self) -> dict[ServiceKey, str]:
        return dict(self._urls)

    async def resolve(self, namespace: str, name: str, port: int) -> list[str]:
        check_service_ref(namespace, name, port)
        url = self._urls.get((namespace, name, port))
        if url is None:
            raise ServiceNotFound(f"service {namespace}/{name}:{port} has no sandbox proxy")
        return [url]
