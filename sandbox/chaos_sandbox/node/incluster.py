"""What a long-running operator-image pod (the chart's Deployment) needs beyond `commandpods.py`'s command.

- **The API server, in-cluster**: the ServiceAccount token the emulator issued for the pod's account, the CA of the
  emulator's HTTPS endpoint (`emulator/tls.py`) and the namespace, as the files a cluster mounts at
  `/var/run/secrets/kubernetes.io/serviceaccount`, and `KUBERNETES_SERVICE_HOST`/`PORT` naming that endpoint. The
  path is fixed (the `kubernetes` client's `load_incluster_config` reads it), so the process gets its own mount
  namespace (`unshare --mount`, root only) with a tmpfs on /run holding a copy of the files, as the kubelet's
  projected volume is a tmpfs: the host's /run is hidden from the process, nothing is written outside the pod's
  directory, and the mounts vanish with the process.
- **Ports**: these pods share the node's network (as `hostNetwork`), so two replicas cannot both listen on their
  `containerPort`. Each declared port gets a free port of the node, and an argument naming the container port
  (`--metrics-port=8080`, `8080`) is rewritten to it; probes go to that port.
- **Service names**: the pod's own `/etc/hosts` (bind-mounted in that namespace): the node's, plus each Service's
  loopback "ClusterIP" as `<service>.<namespace>.svc` (`proxy.py`), rewritten in place as Services come and go,
  so the load generator's cluster-DNS lookup works. Pods of the node's network have no cluster DNS otherwise.
- **Readiness**: the container's `readinessProbe` when it is an `httpGet` (other handlers, and no probe: Ready
  while the process runs).
"""

from __future__ import annotations

import pathlib
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chaos_sandbox.node.agentpods import Refused

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Run in the pod's directory (the process's cwd), before exec: /run/secrets/… is /var/run/secrets/… (a symlink).
# A pod directory under /run (TMPDIR=/run in the kernel VM tier) would be hidden by the new /run: the cwd still
# reaches it, so it is bound back at its own path, where the pod's volumes and arguments name it.
MOUNT_SCRIPT = ('here="$PWD" && mount --bind "$PWD/hosts" /etc/hosts'
                ' && mount -t tmpfs -o mode=0755,size=1m sandbox-pod-run /run'
                ' && case "$here" in /run/*|/var/run/*)'
                ' mkdir -p "$here" && mount --no-canonicalize --bind . "$here";; esac'  # ".": the cwd, not the path
                ' && { [ ! -d serviceaccount ] || { mkdir -p /run/secrets/kubernetes.io/serviceaccount'
                ' && cp serviceaccount/token serviceaccount/ca.crt serviceaccount/namespace'
                ' /run/secrets/kubernetes.io/serviceaccount/; }; } && exec "$@"')  # no token: automount false


@dataclass(frozen=True)
class ApiEndpoint:
    """The emulator's HTTPS endpoint as pods see it."""

    host: str
    port: int
    ca_pem: bytes


@dataclass(frozen=True)
class Probe:
    path: str
    port: int  # on the node, or on the pod's own address
    period_s: float
    timeout_s: float
    initial_delay_s: float
    failure_threshold: int
    host: str = "127.0.0.1"  # the pod's address when it has one of its own


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))  # nosec B104: only to learn a free port, closed at once
        return int(sock.getsockname()[1])


def map_ports(container: Mapping[str, Any]) -> tuple[dict[int, int], dict[str, int]]:
    """container port -> node port, and port name -> node port."""
    by_number: dict[int, int] = {}
    by_name: dict[str, int] = {}
    for port in container.get("ports") or []:
        number = int(port.get("containerPort", 0))
        if not 0 < number < 65536:
            raise Refused("Unsupported", f"containerPort {number}")
        by_number[number] = by_number.get(number) or free_port()
        if port.get("name"):
            by_name[str(port["name"])] = by_number[number]
    return by_number, by_name


def rewrite_port(arg: str, ports: Mapping[int, int]) -> str:
    prefix, eq, value = arg.rpartition("=") if arg.startswith("--") else ("", "", arg)
    if value.isdigit() and int(value) in ports:
        return f"{prefix}{eq}{ports[int(value)]}"
    return arg


def readiness(container: Mapping[str, Any], by_number: Mapping[int, int], by_name: Mapping[str, int],
              host: str = "127.0.0.1") -> Probe | None:
    probe = container.get("readinessProbe") or {}
    get = probe.get("httpGet")
    if not get:
        return None
    port = get.get("port")
    node_port = by_name.get(port) if isinstance(port, str) else by_number.get(int(port or 0))
    if node_port is None:
        raise Refused("Unsupported", f"readinessProbe port {port!r} is not a declared containerPort")
    return Probe(path=str(get.get("path") or "/"), port=node_port, period_s=float(probe.get("periodSeconds", 10)),
                 timeout_s=float(probe.get("timeoutSeconds", 1)), initial_delay_s=float(
                     probe.get("initialDelaySeconds", 0)), failure_threshold=int(probe.get("failureThreshold", 3)),
                 host=host)


def service_account_files(token: str, namespace: str, api: ApiEndpoint) -> dict[str, str]:
    return {"token": token, "ca.crt": api.ca_pem.decode(), "namespace": namespace}


def mounted(argv: list[str]) -> list[str]:
    """`argv` in a mount namespace of its own where the ServiceAccount files are at their in-cluster path (the
    pid stays the same: unshare and sh exec)."""
    return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", MOUNT_SCRIPT, "sh", *argv]


def write_files(directory: pathlib.Path, files: Mapping[str, str]) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, text in files.items():
        path = directory / name
        path.write_text(text)
        path.chmod(0o600)


def hosts_file(services: str) -> str:
    """The pod's /etc/hosts: the node's, then the Services' names."""
    try:
        base = pathlib.Path("/etc/hosts").read_text()
    except OSError:
        base = "127.0.0.1 localhost\n"
    return base.rstrip("\n") + "\n# Services (chaos sandbox)\n" + services
