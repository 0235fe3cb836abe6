"""The chart's operator Deployment run by the sandbox's node as a cluster runs it, installed with the real helm CLI
into a sandbox that enforces RBAC: two replicas, one leads; the leader's pod deleted, the standby leads.

What runs for real: `helm install` (v4, server-side apply) against the emulator; the Deployment and ReplicaSet
controllers; each operator pod as a process from the image's entrypoint (`chaos-operator run` with the chart's
args and env) that connects in-cluster, over HTTPS, with the token the emulator issued for the chart's
ServiceAccount (node/incluster.py), so every call it makes is judged by the chart's Role and ClusterRole; readiness
from the chart's readinessProbe; the Lease elector; `kubectl delete pod` of the leader.

What stands in: the pods share the node's network, their metrics port mapped to a free one, and find Services by
name through their own /etc/hosts (node/incluster.py). The experiment's verdict (a PodKill on a busy machine) is
not what is asserted: that the leader picks it up, and the standby finishes it after the leader's pod is deleted
mid-chaos, is.
"""

from __future__ import annotations

import os
import pathlib
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_sandbox import leftovers
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.emulator import ALL_CALLS

from chaos_operator.runtime.leader.rules import LEASE_NAME
from tests.support.chart import CHART
from tests.support.helm_cli import INSTALL_HINT, Helm, find_helm
from tests.support.kubectl import Kubectl
from tests.support.waits import DONE, status_of, wait_for
from tests.support.workloads import APP_ARGS, deployment, pretty

NS, RELEASE, SHOP = "chaos-system", "chaos", "shop"
OPERATOR = "app.kubernetes.io/component=operator"
HELM = find_helm()
pytestmark = pytest.mark.skipif(HELM is None, reason=f"no helm v4 CLI: {INSTALL_HINT}")


@pytest.fixture()
def cluster(tmp_path: pathlib.Path) -> Iterator[tuple[Sandbox, Helm, Kubectl]]:
    assert HELM is not None
    with Sandbox(start_delay=0.2, max_seconds=600, work_dir=tmp_path, authorization="RBAC") as box:
        if box.emu.serving_cert is None or box.node is None or box.node.commands.api is None:
            pytest.skip("operator pods connect in-cluster only as root (their own mount namespace)")
        kubeconfig = box.write_kubeconfig(tmp_path / "kubeconfig")
        yield box, Helm(HELM, kubeconfig, tmp_path), Kubectl(kubeconfig, tmp_path)
    left = leftovers.scan(box.token)
    assert left.empty, left.describe()


def ready_pods(box: Sandbox) -> list[dict[str, Any]]:
    pods = box.emu.list("pods", NS, label_selector=OPERATOR)
    return [p for p in pods if not p["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or [])]


def leader(box: Sandbox) -> str | None:
    """The pod whose operator holds the Lease (identities are `<pod name>_<random>`)."""
    lease = box.emu.get("leases", NS, LEASE_NAME)
    holder = str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")
    return holder.rpartition("_")[0] or None


def operator_log(box: Sandbox) -> str:
    assert box.work_dir is not None
    return "\n".join(p.read_text(errors="replace")[-2000:] for p in (box.work_dir / "pods").glob(f"{NS}_*.log"))


def test_two_operator_pods_one_leads_and_deleting_it_fails_over(cluster: tuple[Sandbox, Helm, Kubectl]) -> None:
    box, helm, kubectl = cluster
    # the sandbox pre-installs the CRD without Helm's ownership labels, so the chart leaves it alone
    helm("install", RELEASE, str(CHART), "-n", NS, "--set", "replicaCount=2", "--set", "crds.install=false")
    try:
        pods = wait_for("two operator pods Ready", lambda: len(r := ready_pods(box)) == 2 and r, 120)
    except AssertionError:
        raise AssertionError(operator_log(box)) from None
    names = {p["metadata"]["name"] for p in pods}
    first = wait_for("a leader", lambda: leader(box), 60)
    assert first in names, (first, names)
    for pod in pods:  # run from the image's entrypoint with the chart's args, env from fieldRefs
        ctr = pod["spec"]["containers"][0]
        assert ctr["args"][0] == "run" and "--leader-election" in ctr["args"], ctr["args"]
        assert pod["status"]["containerStatuses"][0]["state"].get("running"), pod["status"]

    # restartPolicy Always: the standby's process killed, its container restarts in the same pod and is Ready again
    standby = (names - {first}).pop()
    pid = box.pod_pid(NS, standby)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for("the standby restarted and Ready", lambda: any(
        p["metadata"]["name"] == standby and p["status"]["containerStatuses"][0]["restartCount"] == 1
        for p in ready_pods(box)), 60)
    assert box.pod_pid(NS, standby) not in (None, pid)

    box.apply(deployment(SHOP, "checkout", 3, args=APP_ARGS))
    box.wait_ready(SHOP, "checkout", 3)
    box.apply([{"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
                "metadata": {"name": "kill", "namespace": SHOP},
                "spec": {"target": {"selector": {"matchLabels": {"app": "checkout"}}, "mode": "fixed", "value": 1},
                         "fault": {"kind": "PodKill", "gracePeriodSeconds": 0},
                         "load": {"service": {"name": "checkout", "port": 8080}, "path": "/", "rate": 50,
                                  "timeout": "1s"},
                         "phases": {"baseline": "4s", "chaos": "20s", "recovery": "2s"}}}])
    picked = wait_for("the experiment in its chaos phase", lambda: status_of(box.emu, "kill", SHOP).get("phase")
                      in ("Chaos", *DONE) and status_of(box.emu, "kill", SHOP)["phase"], 60)
    assert picked == "Chaos", pretty(status_of(box.emu, "kill", SHOP))  # in flight when its leader goes

    kubectl("delete", "pod", first, "-n", NS, "--wait=false")
    deleted = time.monotonic()
    second = wait_for("the standby to lead", lambda: (who := leader(box)) not in (None, first) and who, 120)
    took_lease = time.monotonic() - deleted
    # the standby, or the ReplicaSet's replacement if it asks first after the leader released the Lease (SIGTERM)
    current = {p["metadata"]["name"] for p in box.emu.list("pods", NS, label_selector=OPERATOR)}
    assert second in current - {first}, (second, current)
    which = "the standby" if second in names else "the replacement pod"
    status = wait_for("the experiment to end", lambda: (s := status_of(box.emu, "kill", SHOP)).get("phase") in DONE
                      and s, 180)
    assert status["phases"]["baseline"]["requests"] > 0, pretty(status)  # its load reached the Service by name
    ended = time.monotonic() - deleted
    # the replacement pod stands by, Ready
    wait_for("two operator pods Ready again", lambda: len(r := ready_pods(box)) == 2 and first not in {
        p["metadata"]["name"] for p in r}, 120)
    assert leader(box) == second
    print(f"\nfailover: leader pod {first} deleted at phase {picked}; {second} ({which}) led after "
          f"{took_lease:.1f} s; the experiment ended {status['phase']} ({status.get('reason')}) "
          f"{ended:.1f} s after the delete")
    # The new leader picked the run up from its load workers' data (the chart's one key for both replicas).
    assert status["phase"] == "Completed" and status.get("verdict"), pretty(status)
    assert "picked up" in status["message"], pretty(status)

    # every call came with a token the emulator issued for the chart's ServiceAccount, judged by the chart's RBAC
    account = f"system:serviceaccount:{NS}:{pods[0]['spec']['serviceAccountName']}"
    tokens = {t for t, who in box.emu.emulator.auth.tokens.items() if who.user == account}
    assert len(tokens) >= 3, tokens  # one per pod started: two, and the replacement
    assert {c.resource for c in ALL_CALLS if c.user in tokens} >= {"leases", "chaosexperiments", "pods"}

    helm("uninstall", RELEASE, "-n", NS)
    wait_for("no operator pod", lambda: not box.emu.list("pods", NS, label_selector=OPERATOR), 120)
    assert box.node is not None
    assert box.emu.call(lambda: [s.name for s in box.node.slots.values() if s.namespace == NS]) == []  # type: ignore[union-attr]
