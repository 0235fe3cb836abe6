"""Pods of the operator's image that run its command (Job pods: the chart's schedules), as local processes.

The sandbox has no images. A pod whose image is the operator's (repository `chaos-operator`, any registry, tag
or digest, as the chart renders it; or `OPERATOR_IMAGE`) runs its container's argv on this machine, where the
image's programs are this install's: `chaos-operator` (the image's ENTRYPOINT; also when `command` is empty, with
its CMD `run` when `args` are empty too) is the console script beside the sandbox's Python, and `python -m
chaos_operator…` is that Python running the operator's own module. Nothing else is run (the node runs as root, and
its API server takes pods from anyone on this machine): any other program, `python -c` included, leaves the pod
Pending with the reason (`Refused`). The agent's own pods (`python -m chaos_operator.agent` in `OPERATOR_IMAGE`)
stay `agentpods.py`'s. `$(VAR)` in command and args is expanded from the container's env, as a kubelet does.

What the container would see, mapped for a local process:
- **volumes**: a `configMap` or `secret` volume becomes a directory of the pod with one file per key (or per
  `items` entry; a Secret's values decoded, its files mode 0600), an `emptyDir` an empty directory (TMPDIR
  when mounted at /tmp); arguments that point into a mount path are rewritten to that directory. Other volumes
  are refused.
- **env**: `value`s and `fieldRef`s to the pod's name, namespace, uid, node, service account, labels and
  annotations (so `JOB_COMPLETION_INDEX` resolves), and `status.podIP`; anything else is refused.
- **credentials**: a token the emulator issued for the pod's ServiceAccount (`default` when unset), so RBAC applies
  when enforced: as a kubeconfig (`KUBECONFIG`), and, when the node is root and the emulator serves HTTPS, also
  in-cluster, as the mounted ServiceAccount files and `KUBERNETES_SERVICE_HOST`/`PORT` (`incluster.py`), which is
  how `chaos-operator run` (no flags) connects; otherwise the node's `KUBERNETES_SERVICE_*` are removed. A pod
  with `automountServiceAccountToken: false` (the load workers) gets no token at all, neither mounted nor in its
  kubeconfig, as a kubelet mounts none (the ServiceAccount's own field is not read here).
- **network**: the node's (as `hostNetwork`), so the process reaches the API server on 127.0.0.1; declared
  container ports are mapped to free node ports (`incluster.py`). A container that asks for its pod's IP
  (`fieldRef: status.podIP`, as the load workers do to listen there) gets an address of its own instead, a
  loopback one (127.50.x.y) written to `status.podIP`, and keeps its ports as declared: it listens on its
  address, as a pod in its own network namespace would, and is reached (probes, the operator) at podIP:port.
Security contexts and resource limits are not evaluated; readiness is the `httpGet` readinessProbe, if any.
"""

from __future__ import annotations

import asyncio
import base64
import os
import pathlib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from chaos_sandbox.node import incluster
from chaos_sandbox.node.agentpods import OPERATOR_IMAGE, PYTHONS, Refused
from chaos_sandbox.node.podprocess import LocalProcess, in_cgroup

REPOSITORY = "chaos-operator"  # the chart's image.repository
HOST = "127.0.0.1"  # where a pod of the node's network is probed
PROGRAMS = {"chaos-operator": pathlib.Path(sys.executable).parent / "chaos-operator"}
VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
FIELD_REF = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


@dataclass(frozen=True)
class Plan:
    argv: list[str]
    env: dict[str, str]  # set on top of the node's environment (minus the in-cluster variables)
    files: pathlib.Path  # the pod's own directory on this machine
    kubeconfig: str
    grace_s: float
    config_files: dict[pathlib.Path, str] = field(default_factory=dict)  # configMap volumes' files
    secret_files: dict[pathlib.Path, bytes] = field(default_factory=dict)  # secret volumes' files (mode 0600)
    pod_ip: str | None = None  # an address of its own (it asked for status.podIP), else the node's network
    empty_dirs: list[pathlib.Path] = field(default_factory=list)
    account_files: dict[str, str] = field(default_factory=dict)  # token, ca.crt, namespace: in-cluster
    in_cluster: bool = False  # its own mount namespace, /etc/hosts naming the Services, KUBERNETES_SERVICE_*
    readiness: incluster.Probe | None = None
    restart_policy: str = "Never"
    fallback_to_logs: bool = False  # terminationMessagePolicy FallbackToLogsOnError (no message file here)


def is_operator_image(image: str) -> bool:
    name = image.partition("@")[0]
    if ":" in name.rpartition("/")[2]:
        name = name.rpartition(":")[0]
    return image == OPERATOR_IMAGE or name.rpartition("/")[2] == REPOSITORY


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and "\0" not in v for v in value):
        raise Refused("InvalidArgs", f"{what} must be a list of strings")
    return list(value)


def wants_ip(pod: Mapping[str, Any]) -> bool:
    """Its container takes `status.podIP` into its env: it gets an address of its own (the module's doc)."""
    return any(((item.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") == "status.podIP"
               for ctr in (pod.get("spec") or {}).get("containers") or [] for item in ctr.get("env") or []
               if isinstance(item, dict) and isinstance(item.get("valueFrom"), dict))


def _field(pod: Mapping[str, Any], path: str, pod_ip: str | None = None) -> str:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if path == "status.podIP" and pod_ip is not None:
        return pod_ip
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName") or "default"}
    if path in simple:
        return str(simple[path] or "")
    if match := FIELD_REF.fullmatch(path):
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise Refused("Unsupported", f"env fieldRef {path!r}")


def _env(pod: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str | None = None) -> dict[str, str]:
    if container.get("envFrom"):
        raise Refused("Unsupported", "the sandbox runs no envFrom")
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        name, source = str(item.get("name")), item.get("valueFrom")
        if source is None:
            env[name] = str(item.get("value", ""))
        elif isinstance(source, dict) and set(source) == {"fieldRef"}:
            env[name] = _field(pod, str((source["fieldRef"] or {}).get("fieldPath", "")), pod_ip)
        else:
            raise Refused("Unsupported", f"env {name!r}: only value and fieldRef")
    return env


def expand(args: list[str], env: Mapping[str, str]) -> list[str]:
    """`$(VAR)` replaced by the container's VAR (left as it is when undefined), `$$` by `$`: the kubelet's rule."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return "$" if name is None else env.get(name, match.group(0))
    return [VAR_REF.sub(one, arg) for arg in args]


def _map(arg: str, paths: Mapping[str, str]) -> str:
    """`arg` with a leading container path (or the value of `--opt=PATH`) replaced by its place here."""
    prefix, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    for inside, here in sorted(paths.items(), key=lambda item: -len(item[0])):
        if value == inside or value.startswith(inside.rstrip("/") + "/"):
            return prefix + eq + here + value[len(inside.rstrip("/")):]
    return arg


def plan(pod: Mapping[str, Any], files: pathlib.Path, api_url: str, configmaps: Mapping[str, Mapping[str, Any]],
         token: str, api: incluster.ApiEndpoint | None = None, secrets: Mapping[str, Mapping[str, Any]] | None = None,
         pod_ip: str | None = None) -> Plan:
    """How to run this pod here; `Refused` when the sandbox will not. `configmaps`, `secrets`: the pod's
    namespace's, by name; `token`: the emulator's for the pod's ServiceAccount; `api`: its HTTPS endpoint, for
    in-cluster clients; `pod_ip`: its own address, when it asked for one (`wants_ip`)."""
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    containers = spec.get("containers") or []
    if len(containers) != 1 or spec.get("initContainers"):
        raise Refused("Unsupported", "the sandbox runs operator-image pods of exactly one container")
    ctr = containers[0]
    command, args = _strings(ctr.get("command") or [], "command"), _strings(ctr.get("args") or [], "args")
    if not command:
        command, args = ["chaos-operator"], args or ["run"]  # the image's ENTRYPOINT and CMD (Dockerfile)
    program = PROGRAMS.get(command[0])
    argv = [*command[1:], *args]
    if command[0] in PYTHONS and len(argv) >= 2 and argv[0] == "-m" and argv[1].partition(".")[0] == "chaos_operator":
        program = pathlib.Path(sys.executable)
    if program is None:
        raise Refused("CommandRefused", "the operator image here runs `chaos-operator` or `python -m chaos_operator…`,"
                                        f" not {command!r}")
    volumes = {str(v.get("name")): v for v in spec.get("volumes") or []}
    paths: dict[str, str] = {}
    config_files: dict[pathlib.Path, str] = {}
    secret_files: dict[pathlib.Path, bytes] = {}
    empty_dirs: list[pathlib.Path] = []
    env = {"TMPDIR": str(files / "tmp")}
    for mount in ctr.get("volumeMounts") or []:
        name, inside = str(mount.get("name")), str(mount.get("mountPath", ""))
        volume = volumes.get(name)
        if volume is None or not inside.startswith("/") or mount.get("subPath") or not name.replace("-", "").isalnum():
            raise Refused("Unsupported", f"volume mount {name!r} is not one the sandbox can provide")
        here = files / "volumes" / name
        paths[inside] = str(here)
        if "emptyDir" in volume:
            empty_dirs.append(here)
            env["TMPDIR"] = str(here) if inside.rstrip("/") == "/tmp" else env["TMPDIR"]
        elif "configMap" in volume:
            source = volume["configMap"] or {}
            data = (configmaps.get(str(source.get("name"))) or {}).get("data")
            if data is None:
                raise Refused("FailedMount", f"configmap {source.get('name')!r} not found")
            items = source.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                key, rel = str(item.get("key")), str(item.get("path"))
                if key not in data or rel.startswith("/") or ".." in rel.split("/"):
                    raise Refused("FailedMount", f"configmap {source.get('name')!r} key {key!r}")
                config_files[here / rel] = str(data[key])
        elif "secret" in volume:
            secret_files.update(_secret_files(volume["secret"] or {}, here, secrets or {}))
        else:
            raise Refused("Unsupported", f"volume {name!r}: only configMap, secret and emptyDir")
    env.update(_env(pod, ctr, pod_ip))
    account = spec.get("serviceAccountName") or "default"
    account_files: dict[str, str] = {}
    automount = spec.get("automountServiceAccountToken") is not False
    if api is not None:
        if automount:
            account_files = incluster.service_account_files(token, str(meta.get("namespace")), api)
        env.update(KUBERNETES_SERVICE_HOST=api.host, KUBERNETES_SERVICE_PORT=str(api.port))
    by_number, by_name = incluster.map_ports(ctr)
    if pod_ip is not None:  # its own address: its ports stay as declared
        by_number = {number: number for number in by_number}
        by_name = {n: int(p.get("containerPort", 0)) for p in ctr.get("ports") or [] if (n := p.get("name"))}
    kubeconfig = yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "pod",
        "clusters": [{"name": "sandbox", "cluster": {"server": api_url}}],
        "users": [{"name": account, "user": {"token": token} if automount else {}}],
        "contexts": [{"name": "pod", "context": {"cluster": "sandbox", "user": account,
                                                 "namespace": meta.get("namespace")}}]})
    env["KUBECONFIG"] = str(files / "kubeconfig")
    argv = [_map(a, paths) for a in expand(command[1:], env)] + [_map(a, paths) for a in expand(args, env)]
    argv = [incluster.rewrite_port(a, by_number) for a in argv]
    return Plan(argv=[str(program), *argv], env=env, files=files,
                kubeconfig=kubeconfig, grace_s=float(spec.get("terminationGracePeriodSeconds", 30)),
                config_files=config_files, secret_files=secret_files, pod_ip=pod_ip, empty_dirs=empty_dirs,
                account_files=account_files, in_cluster=api is not None,
                readiness=incluster.readiness(ctr, by_number, by_name, pod_ip or HOST),
                restart_policy=str(spec.get("restartPolicy") or "Always"),
                fallback_to_logs=ctr.get("terminationMessagePolicy") == "FallbackToLogsOnError")


def _secret_files(source: Mapping[str, Any], here: pathlib.Path,
                  secrets: Mapping[str, Mapping[str, Any]]) -> dict[pathlib.Path, bytes]:
    """A secret volume's files, as the kubelet writes them: each key's decoded value (or each `items` entry)."""
    name = str(source.get("secretName"))
    secret = secrets.get(name)
    if secret is None:
        raise Refused("FailedMount", f"secret {name!r} not found")
    data = {str(k): base64.b64decode(str(v)) for k, v in (secret.get("data") or {}).items()}
    data.update({str(k): str(v).encode() for k, v in (secret.get("stringData") or {}).items()})
    files: dict[pathlib.Path, bytes] = {}
    for item in source.get("items") or [{"key": k, "path": k} for k in data]:
        key, rel = str(item.get("key")), str(item.get("path"))
        if key not in data or rel.startswith("/") or ".." in rel.split("/"):
            raise Refused("FailedMount", f"secret {name!r} key {key!r}")
        files[here / rel] = data[key]
    return files


class CommandProcess(LocalProcess):
    """The local process of one such pod, with stdout and stderr in the pod's log."""

    def __init__(self, p: Plan, *, cgroup: pathlib.Path | None, log_path: pathlib.Path | None,
                 cpus: frozenset[int] | None = None) -> None:
        self.plan, self.log_path = p, log_path
        # in-cluster: its own mount namespace, where the ServiceAccount files are at their usual path
        self.argv = in_cgroup(cgroup, incluster.mounted(p.argv) if p.in_cluster else p.argv, cpus)
        self.proc: asyncio.subprocess.Process | None = None

    def prepare(self) -> None:
        """The pod's directory, its kubeconfig, volumes and TMPDIR."""
        for directory in (self.plan.files, self.plan.files / "tmp", *self.plan.empty_dirs):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.plan.files / "kubeconfig").write_text(self.plan.kubeconfig)
        if self.plan.account_files:
            incluster.write_files(self.plan.files / "serviceaccount", self.plan.account_files)
        for path, text in self.plan.config_files.items():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.write_text(text)
        for path, data in self.plan.secret_files.items():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_bytes(data)

    async def start(self) -> None:
        self.prepare()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_SERVICE")}  # the node's own
        env.update(self.plan.env)
        await self.spawn(env, self.plan.files)
