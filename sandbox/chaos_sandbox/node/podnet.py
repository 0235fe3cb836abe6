"""Pod networking for the sandbox (root only): a network namespace and a veth pair per pod.

Every name starts with `csbx` and carries the run's token, so parallel runs and a crashed run's leftovers
can be told apart (`leftovers.py`): netns `csbx-TOKEN-N`, host-side veth `csbxTOKENN`. Each run claims a
/24 in 10.213.0.0/16 that no existing route overlaps, and adds an `unreachable` route for all of it: the
pods' /32 host routes through their veths win while they exist, and anything sent to a pod that is gone
fails locally instead of following the default route off this machine. Before anything in the root
namespace dials a pod, `check_route` asks the kernel (`ip route get`) and refuses unless the answer is
one of our veths. Inside, a pod has a default route via its veth peer, as a pod has via its node (the agent
finds the pod's device through it), but it can still only answer: ip_forward is never touched, and forwarding
is switched off on each host-side veth, so nothing a pod sends ever goes beyond this machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import pathlib
import secrets
import string
import subprocess
from dataclasses import dataclass, field

from chaos_sandbox import runs

PREFIX = "csbx"
NET_BASE = ipaddress.ip_network("10.213.0.0/16")
MAX_PODS = 126  # host/pod address pairs .2/.3 … .252/.253 of the run's /24
IP_TIMEOUT_S = 10.0


class RouteRefused(Exception):
    """An address that is not reached through one of this sandbox's veths: never dialled."""


class NetError(Exception):
    """An `ip` command failed."""


def ip_sync(*args: str, netns: str | None = None, stdin: str | None = None) -> str:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise NetError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


async def ip(*args: str, netns: str | None = None, stdin: str | None = None) -> str:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    proc = await asyncio.create_subprocess_exec(*argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE)
    try:
        async with asyncio.timeout(IP_TIMEOUT_S):
            out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode != 0:
        raise NetError(f"{' '.join(argv)}: {err.decode().strip()}")
    return out.decode()


def netns_supported() -> tuple[bool, str]:
    """Whether pods can get their own network namespaces here, and why not."""
    if os.geteuid() != 0:
        return False, "not running as root"
    try:
        ip_sync("netns", "list")
    except (OSError, NetError, subprocess.TimeoutExpired) as exc:
        return False, f"`ip netns` is not usable: {exc}"
    return True, ""


async def route_device(address: str) -> str | None:
    """The device the kernel would send to `address` through, or None when it has no route."""
    try:
        answer = json.loads(await ip("-j", "route", "get", address))
    except NetError:
        return None
    return str(answer[0].get("dev")) if answer and answer[0].get("dev") else None


async def check_route(address: str, our_devices: set[str]) -> None:
    """Refuse (RouteRefused) unless `address` is loopback or the kernel routes it via one of `our_devices`."""
    addr = ipaddress.ip_address(address)
    if addr.is_loopback:
        return
    dev = await route_device(address)
    if dev is None or dev not in our_devices:
        raise RouteRefused(f"{address} is routed via {dev or 'nothing'}, not one of this sandbox's veths")


def no_forwarding(device: str) -> None:
    """Packets received on `device` are never forwarded, whatever the global ip_forward says (IPv4 checks the
    receiving device's own `forwarding` setting)."""
    if not device.isalnum():
        raise NetError(f"bad device name {device!r}")
    pathlib.Path(f"/proc/sys/net/ipv4/conf/{device}/forwarding").write_text("0")


@dataclass(frozen=True)
class PodNet:
    netns: str
    veth: str
    host_ip: str
    pod_ip: str
    index: int


@dataclass
class RunNet:
    """One sandbox run's subnet, names and pod networks."""

    token: str = field(default_factory=lambda: "".join(secrets.choice(string.ascii_lowercase + string.digits)
                                                       for _ in range(4)))
    subnet: ipaddress.IPv4Network | None = None
    pods: dict[int, PodNet] = field(default_factory=dict)

    @property
    def devices(self) -> set[str]:
        return {net.veth for net in self.pods.values()}

    async def open(self) -> None:
        """Record the run (so a crash can be cleaned up), then claim a free /24 with an unreachable route."""
        runs.register(self.token)
        taken = _routed_networks()
        start = secrets.randbelow(256)
        for offset in range(256):
            candidate = ipaddress.IPv4Network(f"10.213.{(start + offset) % 256}.0/24")
            if any(candidate.overlaps(net) for net in taken):
                continue
            runs.register(self.token, subnet=str(candidate))  # first, so a parallel sweep sees it is taken
            try:  # the atomic claim: fails if a parallel run added the same route first
                await ip("route", "add", "unreachable", str(candidate))
            except NetError:
                continue
            self.subnet = candidate
            return
        runs.unregister(self.token)
        raise NetError(f"no free /24 left in {NET_BASE}")

    def allocate(self) -> PodNet:
        """Names and addresses for one more pod, recorded before any side effect (so a half-made one is cleaned)."""
        if self.subnet is None:
            raise NetError("the run's network is not open")
        index = next((i for i in range(MAX_PODS) if i not in self.pods), None)
        if index is None:
            raise NetError(f"all {MAX_PODS} pod addresses of {self.subnet} are in use")
        base = int(self.subnet.network_address)
        net = PodNet(netns=f"{PREFIX}-{self.token}-{index}", veth=f"{PREFIX}{self.token}{index}",
                     host_ip=str(ipaddress.IPv4Address(base + 2 * index + 2)),
                     pod_ip=str(ipaddress.IPv4Address(base + 2 * index + 3)), index=index)
        self.pods[index] = net
        return net

    async def setup(self, net: PodNet) -> None:
        """Namespace, veth pair, addresses and the /32 routes both ways; then the kernel must agree."""
        await ip("netns", "add", net.netns)
        await ip("link", "add", net.veth, "type", "veth", "peer", "name", "eth0", "netns", net.netns)
        no_forwarding(net.veth)  # before the link is up: packets from the pod are never forwarded
        await ip("-batch", "-", netns=net.netns, stdin=(
            f"link set lo up\naddr add {net.pod_ip}/32 dev eth0\nlink set eth0 up\n"
            f"route add {net.host_ip}/32 dev eth0\nroute add default via {net.host_ip} dev eth0\n"))
        await ip("-batch", "-", stdin=(
            f"addr add {net.host_ip}/32 dev {net.veth}\nlink set {net.veth} up\n"
            f"route add {net.pod_ip}/32 dev {net.veth} src {net.host_ip}\n"))
        await check_route(net.pod_ip, {net.veth})

    async def remove_pod(self, net: PodNet) -> None:
        """Delete the veth (its routes go with it, synchronously), then the namespace. Tolerates half-made ones."""
        for args in (("link", "del", net.veth), ("netns", "del", net.netns)):
            try:
                await ip(*args)
            except NetError:
                pass
        self.pods.pop(net.index, None)

    async def close(self) -> None:
        for net in list(self.pods.values()):
            await self.remove_pod(net)
        if self.subnet is not None:
            try:
                await ip("route", "del", "unreachable", str(self.subnet))
            except NetError:
                pass
            self.subnet = None
        runs.unregister(self.token)


def _routed_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 destination in the main routing table and every local address, but the default route."""
    nets: list[ipaddress.IPv4Network] = []
    for route in json.loads(ip_sync("-j", "-4", "route", "show", "table", "all") or "[]"):
        dst = route.get("dst", "default")
        if dst != "default":
            nets.append(ipaddress.ip_network(dst, strict=False))  # type: ignore[arg-type]
    return [net for net in nets if isinstance(net, ipaddress.IPv4Network)]
