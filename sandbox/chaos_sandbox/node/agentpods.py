"""Pods of the operator's image (helper and stress pods): what the sandbox's kubelet runs for them, and how.

In a cluster such a pod is a container of the operator image running `python -m chaos_operator.agent …`. The
sandbox has no images and no container runtime, so for a pod whose image is `OPERATOR_IMAGE` it runs the
container's command as a local process, as root, in the root PID namespace (what `hostPID` gives; stress pods
get it too), in its own cgroup named with *its* pod UID. Nothing else from a manifest is ever run: the command
must be exactly the image's Python running `-m chaos_operator.agent` (argv lists only, no shell), the container
may set no environment, and it may mount only `emptyDir` volumes and the hostPaths `/proc` and `/sys/fs/cgroup`.
Anything else leaves the pod Pending with the reason (`Refused`).

A container sees its volumes at their mount paths; a local process cannot, so the sandbox maps paths in the
argv instead: an argument that is a volume's mount path (or below it) becomes the volume's place on this
machine (hostPath `/proc` mounted at `/host/proc` → `/proc`, likewise `/sys/fs/cgroup`; an emptyDir → a
directory of the pod, which is also TMPDIR when mounted at /tmp). The container's terminationMessagePath becomes
a file of the pod, which the agent is given with `--termination-log` (its default is that path); the kubelet part
reads it back, at most 4096 bytes, into `state.terminated.message`. Security contexts and limits are not enforced.

Readiness: the one probe shape the operator's helpers use is emulated, an exec readinessProbe
`["test", "-e", PATH]` with PATH on an emptyDir. The agent's `--ready-file PATH` argument is rewritten like any
other path (to the emptyDir's directory of the pod), and the probe's PATH is mapped the same way, so the kubelet part
tests the very file the agent creates, every `periodSeconds`, and sets `ready` from it. Any other probe leaves the
pod Pending with the reason: a readiness the sandbox cannot evaluate must not be guessed.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chaos_sandbox.node.podprocess import MESSAGE_LIMIT, LocalProcess, in_cgroup, log_tail

OPERATOR_IMAGE = "chaos-operator/operator:sandbox"  # what the sandbox's operator puts in its helper pods
AGENT_MODULE = "chaos_operator.agent"
PYTHONS = frozenset({"python", "python3", sys.executable})
# The only hostPath volumes the sandbox mounts, and where they are here.
HOST_PATHS = {"/proc": "/proc", "/sys/fs/cgroup": "/sys/fs/cgroup"}
DEFAULT_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_GRACE_S = 30.0


class Refused(ValueError):
    """A pod the sandbox will not run; `reason` goes into the pod's status."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ReadyProbe:
    """An exec readinessProbe `test -e PATH`, its PATH mapped to this machine."""

    path: pathlib.Path
    period_s: float = 10.0
    initial_delay_s: float = 0.0
    success_threshold: int = 1
    failure_threshold: int = 3

    def passes(self) -> bool:
        return os.path.exists(self.path)  # what `test -e` says


@dataclass(frozen=True)
class Plan:
    """How to run one agent pod: the argv (paths mapped), its files, its deadline and grace period."""

    container: str
    image: str
    argv: list[str]
    files: pathlib.Path  # the pod's own directory on this machine
    message_file: pathlib.Path
    fallback_to_logs: bool
    deadline_s: float | None  # activeDeadlineSeconds
    grace_s: float  # terminationGracePeriodSeconds
    volumes: dict[str, pathlib.Path] = field(default_factory=dict)  # emptyDir name -> directory
    tmp: pathlib.Path | None = None
    probe: ReadyProbe | None = None  # None: Ready as soon as running (no readinessProbe)


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and "\0" not in v for v in value):
        raise Refused("InvalidArgs", f"{what} must be a list of strings")
    return list(value)


def _map(arg: str, paths: Mapping[str, str]) -> str:
    """`arg` with a leading container path (or the value of `--opt=PATH`) replaced by its place here."""
    prefix, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    for inside, here in sorted(paths.items(), key=lambda item: -len(item[0])):
        if value == inside or value.startswith(inside.rstrip("/") + "/"):
            return prefix + eq + here + value[len(inside):]
    return arg


def _seconds(probe: Mapping[str, Any], key: str, default: float, low: float) -> float:
    value = probe.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise Refused("Unsupported", f"readinessProbe {key} {value!r}")
    return float(value)


def ready_probe(probe: Mapping[str, Any], paths: Mapping[str, str],
                empty_dirs: Mapping[str, pathlib.Path]) -> ReadyProbe:
    """The emulated shape of readinessProbe, or Refused."""
    command = (probe.get("exec") or {}).get("command") if isinstance(probe.get("exec"), dict) else None
    if not isinstance(command, list) or len(command) != 3 or command[:2] != ["test", "-e"] \
            or not isinstance(command[2], str) or not command[2].startswith("/"):
        raise Refused("Unsupported", "the sandbox evaluates only an exec readinessProbe `test -e PATH`")
    here = _map(command[2], {k: v for k, v in paths.items() if v in {str(d) for d in empty_dirs.values()}})
    if here == command[2] or ".." in command[2].split("/"):
        raise Refused("Unsupported", f"readinessProbe path {command[2]!r} is not on an emptyDir volume")
    return ReadyProbe(pathlib.Path(here), period_s=_seconds(probe, "periodSeconds", 10, 1),
                      initial_delay_s=_seconds(probe, "initialDelaySeconds", 0, 0),
                      success_threshold=int(_seconds(probe, "successThreshold", 1, 1)),
                      failure_threshold=int(_seconds(probe, "failureThreshold", 3, 1)))


def plan(pod: Mapping[str, Any], files: pathlib.Path) -> Plan:
    """Check an operator-image pod and say how to run it locally; `Refused` when the sandbox will not."""
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if len(containers) != 1 or spec.get("initContainers"):
        raise Refused("Unsupported", "the sandbox runs operator-image pods of exactly one container")
    ctr = containers[0]
    command, args = _strings(ctr.get("command") or [], "command"), _strings(ctr.get("args") or [], "args")
    if len(command) != 3 or command[0] not in PYTHONS or command[1:] != ["-m", AGENT_MODULE]:
        raise Refused("CommandRefused", f"the sandbox runs only `python -m {AGENT_MODULE}` from the operator image,"
                                        f" not {command!r}")
    if ctr.get("env") or ctr.get("envFrom"):
        raise Refused("Unsupported", "the sandbox runs the agent with a fixed environment: no env or envFrom")
    volumes = {str(v.get("name")): v for v in spec.get("volumes") or []}
    paths: dict[str, str] = {}
    empty_dirs: dict[str, pathlib.Path] = {}
    tmp: pathlib.Path | None = None
    for mount in ctr.get("volumeMounts") or []:
        volume, inside = volumes.get(str(mount.get("name"))), str(mount.get("mountPath", ""))
        if volume is None or not inside.startswith("/") or mount.get("subPath") or mount.get("subPathExpr"):
            raise Refused("Unsupported", f"volume mount {mount.get('name')!r} is not one the sandbox can provide")
        if "hostPath" in volume:
            host = str((volume["hostPath"] or {}).get("path", ""))
            if host not in HOST_PATHS:
                raise Refused("Unsupported", f"the sandbox mounts no hostPath but {sorted(HOST_PATHS)}, not {host!r}")
            paths[inside] = HOST_PATHS[host]
        elif "emptyDir" in volume:
            name = str(volume["name"])
            if not name.replace("-", "").isalnum():
                raise Refused("Unsupported", f"volume name {name!r}")
            empty_dirs[name] = files / "volumes" / name
            paths[inside] = str(empty_dirs[name])
            tmp = empty_dirs[name] if inside.rstrip("/") == "/tmp" else tmp
        else:
            raise Refused("Unsupported", f"volume {volume.get('name')!r}: only emptyDir and {sorted(HOST_PATHS)}")
    message_path = str(ctr.get("terminationMessagePath") or DEFAULT_MESSAGE_PATH)
    message_file = files / "termination-log"
    paths[message_path] = str(message_file)
    argv = [sys.executable, "-m", AGENT_MODULE, *(_map(a, paths) for a in args)]
    if not any(a == "--termination-log" or a.startswith("--termination-log=") for a in args):
        argv += ["--termination-log", str(message_file)]  # the agent's default is the container's path
    deadline = spec.get("activeDeadlineSeconds")
    probe = ready_probe(ctr["readinessProbe"], paths, empty_dirs) if ctr.get("readinessProbe") else None
    return Plan(container=str(ctr.get("name") or "agent"), image=str(ctr.get("image")), argv=argv, files=files,
                message_file=message_file,
                fallback_to_logs=ctr.get("terminationMessagePolicy") == "FallbackToLogsOnError",
                deadline_s=float(deadline) if isinstance(deadline, int | float) and deadline > 0 else None,
                grace_s=float(spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_S)),
                volumes=empty_dirs, tmp=tmp, probe=probe)


def termination_message(p: Plan, exit_code: int, log_path: pathlib.Path | None) -> str:
    """What a kubelet puts into `state.terminated.message`: the file (at most 4096 bytes), or with
    FallbackToLogsOnError and an empty file after a failure, the tail of the log."""
    try:
        with p.message_file.open("rb") as handle:
            text = handle.read(MESSAGE_LIMIT).decode(errors="replace")
    except OSError:
        text = ""
    if not text and p.fallback_to_logs and exit_code != 0:
        text = log_tail(log_path)
    return text


class AgentProcess(LocalProcess):
    """The local process of one agent pod, in its cgroup, with stdout and stderr in the pod's log."""

    def __init__(self, p: Plan, *, cgroup: pathlib.Path | None, log_path: pathlib.Path | None,
                 cpus: frozenset[int] | None = None) -> None:
        self.plan, self.log_path = p, log_path
        self.argv = in_cgroup(cgroup, p.argv, cpus)
        self.proc: asyncio.subprocess.Process | None = None

    def prepare(self) -> None:
        """The pod's directory, its empty termination-message file and its emptyDir volumes."""
        self.plan.files.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.plan.message_file.write_bytes(b"")
        for directory in self.plan.volumes.values():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def start(self) -> None:
        self.prepare()
        env = dict(os.environ)
        if self.plan.tmp is not None:
            env["TMPDIR"] = str(self.plan.tmp)
        await self.spawn(env, self.plan.files)
