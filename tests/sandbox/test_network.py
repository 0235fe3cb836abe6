"""Pod networking (root): one namespace and veth per pod, the `ip route get` guard, and a clean stop."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import pathlib
import subprocess
from typing import Any

import pytest
from chaos_sandbox import leftovers, runs
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.node.podnet import RouteRefused, check_route

from tests.sandbox.conftest import needs_netns
from tests.support.workloads import deployment

pytestmark = needs_netns
NS = "net"


def ip_json(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, timeout=10, check=True).stdout
    return list(json.loads(out or "[]"))


def ours(token: str) -> dict[str, list[str]]:
    """Everything of run `token` that the system shows, asked the plain way."""
    subnet = (runs.read(token) or runs.Run(token, 0, None, {})).extra.get("subnet")
    return {
        "netns": [str(n["name"]) for n in ip_json("netns", "list") if f"csbx-{token}-" in str(n["name"])],
        "links": [str(n["ifname"]) for n in ip_json("link", "show") if str(n["ifname"]).startswith(f"csbx{token}")],
        "routes": [str(r["dst"]) for r in ip_json("-4", "route", "show", "type", "unreachable")
                   if subnet is not None and r["dst"] == subnet],
        "processes": [str(pid) for pid, tok in leftovers.app_processes() if tok == token],
    }


def test_each_pod_has_its_own_namespace_and_a_clean_stop_leaves_nothing() -> None:
    with Sandbox(start_delay=0.2, max_seconds=120) as sb:
        sb.apply(deployment(NS, "web", 3))
        pods = sb.wait_ready(NS, "web", 3)
        running = ours(sb.token)
        assert len(running["netns"]) == len(running["links"]) == len(running["processes"]) == 3, running
        assert len(running["routes"]) == 1
        token = sb.token
        ips = {p["status"]["podIP"] for p in pods}
        assert len(ips) == 3 and all(ipaddress.ip_address(a) in ipaddress.ip_network("10.213.0.0/16") for a in ips)
        for pod in pods:  # the kernel reaches each pod through one of this run's veths
            dev = ip_json("route", "get", pod["status"]["podIP"])[0]["dev"]
            assert str(dev).startswith(f"csbx{token}")
            # Inside, a default route via the veth's host end (the agent finds the pod's device through it); that
            # end forwards nothing, so whatever a pod sends goes no further than this machine.
            netns = sb.pod_netns(NS, pod["metadata"]["name"])
            assert netns is not None
            (default,) = ip_json("-n", netns, "route", "show", "default")
            host_ip = ip_json("-4", "addr", "show", "dev", str(dev))[0]["addr_info"][0]["local"]
            assert (default["dev"], default["gateway"]) == ("eth0", host_ip)
            assert pathlib.Path(f"/proc/sys/net/ipv4/conf/{dev}/forwarding").read_text().strip() == "0"
    assert ours(token) == {"netns": [], "links": [], "routes": [], "processes": []}
    assert runs.read(token) is None
    assert leftovers.scan(token).empty


def test_the_route_check_refuses_what_is_not_routed_through_our_veth() -> None:
    with Sandbox(start_delay=0.2, max_seconds=120) as sb:
        sb.apply(deployment(NS, "web", 1))
        pod_ip = sb.wait_ready(NS, "web", 1)[0]["status"]["podIP"]
        node = sb.node
        assert node is not None
        veth = node.routes[pod_ip]
        asyncio.run(check_route(pod_ip, {veth}))  # routed via our veth: allowed
        asyncio.run(check_route("127.0.0.1", set()))  # loopback: allowed
        with pytest.raises(RouteRefused):
            asyncio.run(check_route(pod_ip, {"eth0"}))  # not via one of the given devices
        with pytest.raises(RouteRefused):
            asyncio.run(check_route("203.0.113.7", {veth}))  # would leave through the default route
        run = runs.read(sb.token)
        assert run is not None
        # .254 of our /24 is never a pod's: only the run's unreachable route covers it.
        unused = str(ipaddress.ip_network(str(run.extra["subnet"])).network_address + 254)
        with pytest.raises(RouteRefused):
            asyncio.run(check_route(unused, {veth}))
        for address in ("203.0.113.7", unused):  # the proxy's dialer refuses before any packet is sent
            with pytest.raises(RouteRefused):
                sb.emu.run(node.dial(address, 8080))
