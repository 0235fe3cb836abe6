"""Pod Security Admission, emulated: on pod creation the namespace's `pod-security.kubernetes.io/enforce` label
(`privileged`, `baseline` or `restricted`; no label is `privileged`, an unknown value is treated as
`restricted`, failing closed) is enforced with the checks of the Pod Security Standards that matter for this
project, and a violation is refused with 403 Forbidden and the message a real API server gives:

    pods "x" is forbidden: violates PodSecurity "restricted:latest": host namespaces (hostPID=true), ...

Baseline: host namespaces, privileged containers, capabilities added beyond the baseline set, hostPath volumes,
host ports, an `Unconfined` seccomp profile. Restricted, on top: only ephemeral-safe volume types,
`allowPrivilegeEscalation: false`, `capabilities.drop: [ALL]` (and only NET_BIND_SERVICE added),
`runAsNonRoot: true`, no `runAsUser: 0`, and a `RuntimeDefault` or `Localhost` seccomp profile. Pure: the
emulator's store calls `violations` with the pod and the namespace's labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

ENFORCE = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"
LEVELS = ("privileged", "baseline", "restricted")
BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
RESTRICTED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                "persistentVolumeClaim", "projected", "secret"})
Obj = Mapping[str, Any]


def level_of(labels: Mapping[str, str] | None) -> tuple[str, str]:
    """(level, version) a namespace enforces."""
    labels = labels or {}
    level = labels.get(ENFORCE, "privileged")
    return (level if level in LEVELS else "restricted"), labels.get(ENFORCE_VERSION, "latest")


def _containers(spec: Obj) -> list[Obj]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers") for c in spec.get(key) or []
            if isinstance(c, Mapping)]


def _names(kind: str, names: Sequence[str]) -> str:
    quoted = ", ".join(f'"{n}"' for n in names)
    return f"{kind}s {quoted}" if len(names) > 1 else f"{kind} {quoted}"


def _sc(obj: Obj) -> Obj:
    value = obj.get("securityContext")
    return value if isinstance(value, Mapping) else {}


def _effective(spec: Obj, c: Obj, key: str) -> Any:
    """A container's setting, else the pod's (runAsNonRoot, runAsUser, seccompProfile inherit)."""
    own = _sc(c).get(key)
    return own if own is not None else _sc(spec).get(key)


def _by_container(spec: Obj, bad: Callable[[Obj], bool]) -> list[str]:
    return [str(c.get("name")) for c in _containers(spec) if bad(c)]


def _added(c: Obj) -> list[str]:
    caps = _sc(c).get("capabilities") or {}
    return [str(x) for x in caps.get("add") or []]


def baseline(spec: Obj) -> list[str]:
    found = []
    hosts = [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True]
    if hosts:
        found.append(f"host namespaces ({', '.join(hosts)})")
    if names := _by_container(spec, lambda c: _sc(c).get("privileged") is True):
        found.append(f"privileged ({_names('container', names)} must not set securityContext.privileged=true)")
    extra = {str(c.get("name")): [x for x in _added(c) if x not in BASELINE_CAPABILITIES]
             for c in _containers(spec)}
    if bad := {name: caps for name, caps in extra.items() if caps}:
        caps = sorted({x for caps in bad.values() for x in caps})
        found.append(f"non-default capabilities ({_names('container', list(bad))} must not include "
                     f"{', '.join(f'{chr(34)}{x}{chr(34)}' for x in caps)} in "
                     "securityContext.capabilities.add)")
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, Mapping)]
    if host_paths := [str(v.get("name")) for v in volumes if "hostPath" in v]:
        found.append(f"hostPath volumes ({_names('volume', host_paths)})")
    ports = [f'container "{c.get("name")}" uses hostPort {p["hostPort"]}' for c in _containers(spec)
             for p in c.get("ports") or [] if isinstance(p, Mapping) and p.get("hostPort")]
    if ports:
        found.append(f"hostPort ({', '.join(ports)})")
    if names := _by_container(spec, lambda c: (_effective(spec, c, "seccompProfile") or {}).get("type")
                              == "Unconfined"):
        found.append(f'seccompProfile ({_names("container", names)} must not set securityContext.seccompProfile'
                     '.type to "Unconfined")')
    return found


def restricted(spec: Obj) -> list[str]:
    found = baseline(spec)
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, Mapping)]
    odd = [(str(v.get("name")), t) for v in volumes for t in v if t != "name" and t not in RESTRICTED_VOLUMES]
    if odd:
        uses = ", ".join(f'volume "{n}" uses restricted volume type "{t}"' for n, t in odd)
        found.append(f"restricted volume types ({uses})")
    if names := _by_container(spec, lambda c: _sc(c).get("allowPrivilegeEscalation") is not False):
        found.append(f"allowPrivilegeEscalation != false ({_names('container', names)} must set "
                     "securityContext.allowPrivilegeEscalation=false)")
    drops = _by_container(spec, lambda c: "ALL" not in ((_sc(c).get("capabilities") or {}).get("drop") or []))
    adds = _by_container(spec, lambda c: any(x != "NET_BIND_SERVICE" for x in _added(c)))
    if drops or adds:
        parts = ([f'{_names("container", drops)} must set securityContext.capabilities.drop=["ALL"]'] if drops
                 else []) + ([f"{_names('container', adds)} must not include capabilities other than "
                              '"NET_BIND_SERVICE" in securityContext.capabilities.add'] if adds else [])
        found.append(f"unrestricted capabilities ({'; '.join(parts)})")
    if names := _by_container(spec, lambda c: _effective(spec, c, "runAsNonRoot") is not True):
        found.append(f"runAsNonRoot != true (pod or {_names('container', names)} must set "
                     "securityContext.runAsNonRoot=true)")
    if names := _by_container(spec, lambda c: _effective(spec, c, "runAsUser") == 0):
        found.append(f"runAsUser=0 ({_names('container', names)} must not set runAsUser=0)")
    if names := _by_container(spec, lambda c: (_effective(spec, c, "seccompProfile") or {}).get("type")
                              not in ("RuntimeDefault", "Localhost")):
        found.append(f"seccompProfile (pod or {_names('container', names)} must set "
                     'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
    return found


def violations(pod: Obj, namespace_labels: Mapping[str, str] | None) -> str | None:
    """The Forbidden message for this pod in a namespace with these labels, or None when it is admitted."""
    level, version = level_of(namespace_labels)
    spec = pod.get("spec")
    if level == "privileged" or not isinstance(spec, Mapping):
        return None  # a pod without a spec is refused by validation, not here
    found = restricted(spec) if level == "restricted" else baseline(spec)
    if not found:
        return None
    name = (pod.get("metadata") or {}).get("name") or ""
    return f'pods "{name}" is forbidden: violates PodSecurity "{level}:{version}": {", ".join(found)}'
