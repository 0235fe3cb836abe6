"""Pure builders of the `status` a kubelet writes for a pod of one container (phase, conditions, container state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
HOST_IP = "127.0.0.1"


@dataclass(frozen=True)
class Terminated:
    exit_code: int
    reason: str  # Completed | Error | OOMKilled | ...
    message: str = ""
    started_at: str = ""
    finished_at: str = ""


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    container_id: str = ""  # without the runtime prefix


def pod_status(container: Container, phase: str, ready: bool, now: str, *, started_at: str = "",
               start_time: str = "", ip: str | None = None, reason: str | None = None, message: str | None = None,
               terminated: Terminated | None = None, still_running: bool = False, restarts: int = 0) -> Obj:
    """`phase` Pending (container waiting with `reason`), Running (container running since `started_at`, or
    waiting with `reason` between restarts, as in CrashLoopBackOff),
    Succeeded/Failed (container `terminated`, or with `reason` alone when it never ran, or `still_running` while
    it is being stopped, as after an exceeded deadline)."""
    flag = "True" if ready else "False"
    status: Obj = {"phase": phase, "conditions": [
        {"type": t, "status": s, "lastTransitionTime": now} for t, s in
        (("PodScheduled", "True"), ("Initialized", "True"), ("ContainersReady", flag), ("Ready", flag))]}
    if reason and phase != "Running":  # a waiting container's reason is the container's, not the pod's
        status.update(reason=reason, message=message)
    if start_time:
        status.update(hostIP=HOST_IP, startTime=start_time)
    if ip:
        status.update(podIP=ip, podIPs=[{"ip": ip}], hostIP=HOST_IP, startTime=start_time or started_at)
    state: Obj
    if terminated is not None:
        ended: Obj = {"exitCode": terminated.exit_code, "reason": terminated.reason}
        for key, value in (("startedAt", terminated.started_at), ("finishedAt", terminated.finished_at),
                           ("message", terminated.message)):
            if value:
                ended[key] = value
        state = {"terminated": ended}
    elif (phase == "Running" and not reason) or still_running:
        state = {"running": {"startedAt": started_at}}
    elif phase == "Failed":
        state = {"terminated": {"exitCode": 1, "reason": reason or "Error"}}
    else:
        state = {"waiting": {"reason": reason or "ContainerCreating", "message": message or ""}}
    entry: Obj = {"name": container.name, "image": container.image, "imageID": f"sandbox://{container.image}",
                  "ready": ready, "started": "running" in state, "restartCount": restarts,
                  "state": state}
    if container.container_id:
        entry["containerID"] = f"containerd://{container.container_id}"
    status["containerStatuses"] = [entry]
    return status
