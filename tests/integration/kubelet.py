"""A fake kubelet for helper pods in the integration tests: the real operator under kopf creates helper pods and
this plays the node (nothing runs them): it starts them (Running), makes a fault helper Ready when its agent would
have applied the fault (at once, or `ready_after` seconds later: a slow agent, or only on `make_ready`), ends
revert-only helpers with the agent's report, and on deletion writes the report a SIGTERMed agent would write, then
removes the pod."""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from chaos_sandbox.emulator import EmulatorThread

from chaos_operator.faults.helpers import pod_spec as manifests
from chaos_operator.faults.helpers.pod_spec import HELPER_SELECTOR, ROLE_LABEL

IMAGE = "registry.example/chaos-operator:test"
Report = dict[str, Any]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def running(ready: bool = True) -> dict[str, Any]:
    """A running helper; `ready` once its readiness probe found the agent's ready file (the fault is in place)."""
    flag = "True" if ready else "False"
    return {"phase": "Running", "conditions": [{"type": t, "status": flag} for t in ("ContainersReady", "Ready")],
            "containerStatuses": [
                {"name": "agent", "ready": ready, "started": True, "restartCount": 0, "image": IMAGE, "imageID": IMAGE,
                 "state": {"running": {"startedAt": _now()}}}]}


def terminated(report: Report, exit_code: int = 0) -> dict[str, Any]:
    return {"phase": "Succeeded" if exit_code == 0 else "Failed", "containerStatuses": [
        {"name": "agent", "ready": False, "started": False, "restartCount": 0, "image": IMAGE, "imageID": IMAGE,
         "state": {"terminated": {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                                  "message": json.dumps(report) + "\n", "finishedAt": _now()}}}]}


class FakeKubelet:
    """Plays the node for helper pods. `start(pod)` gives the status a new fault helper gets (default: Running, not
    ready); a Running helper not ready becomes ready `ready_after` seconds later (None: only on `make_ready`).
    `revert(pod)` the report of a revert-only helper, `stopped(pod)` the report after SIGTERM."""

    def __init__(self, cluster: EmulatorThread) -> None:
        self.cluster = cluster
        self.seen: dict[str, dict[str, Any]] = {}  # name -> the pod as created
        self.instances: dict[str, str] = {}  # uid -> role: each pod created, names reused or not
        self.start: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda pod: running(ready=False)
        self.ready_after: float | None = 0.0
        self.ready_at: dict[str, float] = {}  # helper name -> when (time.time()) it was made Ready
        self.revert: Callable[[dict[str, Any]], tuple[Report, int] | None] = lambda pod: ({"state": "reverted"}, 0)
        self.stopped: Callable[[dict[str, Any]], Report] = lambda pod: {"state": "reverted", "revert": "reverted"}
        self.vanish = False  # on deletion the pod is gone at once, no report (force-deleted, its node lost)
        self.remove_after = 0.6  # seconds from a helper's deletion (its report written) to its removal
        self._handled: set[str] = set()
        self._halt = threading.Event()
        self._lock = threading.Lock()  # a late make_ready never overwrites the status a deletion wrote
        self._thread = threading.Thread(target=self._main, name="fake-kubelet", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> FakeKubelet:
        # A helper's deletion waits for this kubelet, as a real graceful stop does.
        def defer(rt: Any, obj: dict[str, Any], grace: int | None) -> bool:
            labels = obj["metadata"].get("labels") or {}
            return bool(rt.plural == "pods" and labels.get(manifests.MANAGED_BY) == manifests.OPERATOR)
        self.cluster.emulator.store.on_delete = defer
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self._thread.join(10)
        if self.error is not None:
            raise self.error

    def helpers(self, role: str | None = None) -> list[dict[str, Any]]:
        pods = self.cluster.list("pods", None, label_selector=HELPER_SELECTOR)
        return [p for p in pods if role is None or p["metadata"]["labels"].get(ROLE_LABEL) == role]

    def seen_role(self, role: str) -> list[dict[str, Any]]:
        return [p for p in self.seen.values() if p["metadata"]["labels"][ROLE_LABEL] == role]

    def _main(self) -> None:
        try:
            while not self._halt.wait(0.05):
                for pod in self.helpers():
                    with self._lock:
                        self._step(pod)
        except BaseException as exc:  # surfaced by __exit__
            self.error = exc

    def _status(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        meta = pod["metadata"]
        self.cluster.patch("pods", meta["namespace"], meta["name"], {"status": status}, subresource="status")

    def _step(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = f"{meta['name']}/{meta['uid']}"
        self.seen.setdefault(meta["name"], pod)
        self.instances.setdefault(meta["uid"], meta["labels"].get(ROLE_LABEL, ""))
        if meta.get("deletionTimestamp"):
            if key + "/deleted" not in self._handled:
                self._handled.add(key + "/deleted")
                if self.vanish:
                    self._remove(meta["namespace"], meta["name"])
                    return
                if "terminated" not in str(pod.get("status")):
                    self._status(pod, terminated(self.stopped(pod)))
                threading.Timer(self.remove_after, self._remove, (meta["namespace"], meta["name"])).start()
            return
        if key in self._handled:
            return
        self._handled.add(key)
        if meta["labels"][ROLE_LABEL] == "revert":
            outcome = self.revert(pod)
            if outcome is not None:
                self._status(pod, terminated(*outcome))
            return
        status = self.start(pod)
        if status is not None:
            self._status(pod, status)
            if status["phase"] == "Running" and not status["containerStatuses"][0]["ready"] \
                    and self.ready_after is not None:
                threading.Timer(self.ready_after, self.make_ready, (meta["name"],)).start()

    def make_ready(self, name: str) -> None:
        """The agent applied its fault: its ready file exists, the probe passes, the pod is Ready."""
        with self._lock:
            pods = [p for p in self.helpers("fault") if p["metadata"]["name"] == name]
            if self._halt.is_set() or not pods or pods[0]["metadata"].get("deletionTimestamp") \
                    or (pods[0].get("status") or {}).get("phase") != "Running":
                return
            self._status(pods[0], running(ready=True))
            self.ready_at[name] = time.time()

    def _remove(self, namespace: str, name: str) -> None:
        if not self._halt.is_set():
            self.cluster.call(self.cluster.emulator.store.remove, self.cluster.rtype("pods"), namespace, name)
