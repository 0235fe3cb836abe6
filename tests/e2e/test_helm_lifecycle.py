"""The chart's whole Helm lifecycle in a sandbox that enforces RBAC, with experiments run by the operator Helm
installed: the chart's Deployment pod, a process on the sandbox's node connecting in-cluster with the chart's
ServiceAccount token (node/incluster.py). helm install (the chart brings the CRD) → an experiment runs to a verdict →
helm upgrade to a chart version whose CRD changed (a field and a column), with changed values → an experiment runs →
helm rollback → helm uninstall leaves only what is kept on purpose. Then the chart with its PodKill rule removed:
the installed operator's kill is refused with the API server's 403.

Real helm v4 CLI (Helm's defaults: server-side apply, Secret storage), real kubectl with the sandbox's kubeconfig.
The verdicts themselves (a PodKill on a busy machine) are not asserted; that each run reaches one is.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_sandbox import leftovers
from chaos_sandbox.cluster import Sandbox
from chaos_sandbox.helm_release import HelmRelease

from tests.support.chart import CHART, changed_chart, chart_without
from tests.support.helm_cli import INSTALL_HINT, find_helm
from tests.support.kubectl import Kubectl, run
from tests.support.waits import DONE, wait_for, wait_phase
from tests.support.workloads import APP_ARGS, deployment, pretty

NS, RELEASE, SHOP = "chaos-system", "chaos", "shop"
CRD = "chaosexperiments.chaosoperator.dev"
ACCOUNT = f"system:serviceaccount:{NS}:{RELEASE}-chaos-operator"  # the chart's ServiceAccount
HELM = find_helm()
pytestmark = pytest.mark.skipif(HELM is None, reason=f"no helm v4 CLI: {INSTALL_HINT}")


@pytest.fixture()
def cluster(tmp_path: pathlib.Path) -> Iterator[tuple[Sandbox, HelmRelease, Kubectl]]:
    # No CRD of the sandbox's own: the chart installs it, as on a bare cluster.
    with Sandbox(start_delay=0.2, max_seconds=900, work_dir=tmp_path, authorization="RBAC", crd=False) as box:
        if box.node is None or box.node.commands.api is None:
            pytest.skip("operator pods connect in-cluster only as root (their own mount namespace)")
        release = HelmRelease(box, tmp_path / "helm", helm=HELM, release=RELEASE, namespace=NS)
        box.apply(deployment(SHOP, "checkout", 3, args=APP_ARGS))
        box.wait_ready(SHOP, "checkout", 3)
        yield box, release, Kubectl(release.kubeconfig, tmp_path)
    left = leftovers.scan(box.token)
    assert left.empty, left.describe()


def experiment(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "chaosoperator.dev/v1alpha1", "kind": "ChaosExperiment",
            "metadata": {"name": name, "namespace": SHOP},
            "spec": {"target": {"selector": {"matchLabels": {"app": "checkout"}}, "mode": "fixed", "value": 1},
                     "fault": {"kind": "PodKill", "gracePeriodSeconds": 0},
                     "load": {"service": {"name": "checkout", "port": 8080}, "path": "/", "rate": 50,
                              "timeout": "1s"},
                     "phases": {"baseline": "3s", "chaos": "5s", "recovery": "3s"}, **spec}}


def run_to_verdict(box: Sandbox, kubectl: Kubectl, release: HelmRelease, doc: dict[str, Any]) -> dict[str, Any]:
    kubectl.apply(doc)
    try:
        status = wait_phase(box.emu, doc["metadata"]["name"], DONE, 120, SHOP)
    except AssertionError:
        raise AssertionError(release.pod_log()) from None
    assert status["phase"] == "Completed" and status["verdict"] in ("Passed", "Failed"), pretty(status)
    assert [i["state"] for i in status["injections"]] == ["Recovered"], pretty(status)
    return status


def operator_args(box: Sandbox, pod: str) -> list[str]:
    found = box.emu.get("pods", NS, pod)
    assert found is not None, pod
    return list(found["spec"]["containers"][0]["args"])


def deletes_by_the_chart_account(box: Sandbox) -> int:
    """Pod deletions the emulator recorded with a token it issued for the chart's ServiceAccount."""
    def count() -> int:
        tokens = {t for t, who in box.emu.emulator.auth.tokens.items() if who.user == ACCOUNT}
        return sum(1 for c in box.emu.emulator.calls if c.user in tokens and (c.verb, c.resource) == ("delete", "pods"))
    return box.emu.call(count)


def columns(kubectl: Kubectl) -> list[str]:
    return [c["name"] for c in kubectl.json("get", "crd", CRD)["spec"]["versions"][0]["additionalPrinterColumns"]]


def history(release: HelmRelease) -> list[tuple[int, str]]:
    return [(r["revision"], r["status"]) for r in json.loads(release("history", RELEASE, "-n", NS, "-o", "json"))]


def left_over(kubectl: Kubectl) -> set[str]:
    """Everything in the release namespace, and every cluster-scoped object named after the chart."""
    kinds = "all,secrets,configmaps,serviceaccounts,roles,rolebindings,leases,jobs,cronjobs"
    names = {f'{o["kind"]}/{o["metadata"]["name"]}' for o in kubectl.json("get", kinds, "-n", NS)["items"]}
    cluster = kubectl.json("get", "clusterroles,clusterrolebindings,validatingadmissionpolicies,"
                                  "validatingadmissionpolicybindings,crd")["items"]
    return names | {f'{o["kind"]}/{o["metadata"]["name"]}' for o in cluster if "chaos" in o["metadata"]["name"]}


def test_install_run_upgrade_run_rollback_uninstall(cluster: tuple[Sandbox, HelmRelease, Kubectl],
                                                    tmp_path: pathlib.Path) -> None:
    box, release, kubectl = cluster
    release("install", RELEASE, str(CHART), "-n", NS, "--create-namespace")
    first = release.wait_leading()
    assert "STATUS: deployed" in release("status", RELEASE, "-n", NS)
    before = columns(kubectl)
    owned = tmp_path / "owned.json"  # uses the changed CRD's new field: unknown to this one
    owned.write_text(json.dumps(experiment("owned", owner="team-checkout")))
    refused = run(kubectl.kubeconfig, "apply", "--dry-run=server", "-f", str(owned), home=kubectl.home)
    assert refused.returncode != 0 and 'unknown field "spec.owner"' in refused.stderr, refused.stderr
    status = run_to_verdict(box, kubectl, release, experiment("before-upgrade"))
    print(f"\nrevision 1: before-upgrade {status['verdict']} (pod {first})")
    assert deletes_by_the_chart_account(box) == 1  # the kill, by the installed operator's own account

    # A chart version whose CRD gained a column and a field, with a values change that changes the pod's args.
    release("upgrade", RELEASE, str(changed_chart(tmp_path)), "-n", NS, "--set", f"allowedNamespaces={{{SHOP}}}")
    assert columns(kubectl) == [*before, "Owner"]
    second = wait_for("the upgraded operator pod leading", lambda: (pod := release.leading()) not in (None, first) and
                      "--allow-namespace=shop" in operator_args(box, pod) and pod, 120)
    assert history(release) == [(1, "superseded"), (2, "deployed")]
    # The server now takes the new field (the operator, one version behind the chart, would refuse it: dry run).
    assert "owned created (server dry run)" in kubectl("apply", "--dry-run=server", "-f", str(owned))
    status = run_to_verdict(box, kubectl, release, experiment("after-upgrade"))
    print(f"revision 2: after-upgrade {status['verdict']} (pod {second})")
    assert "OWNER" in kubectl("get", "cex", "-n", SHOP)  # served with the new column
    assert deletes_by_the_chart_account(box) == 2

    release("rollback", RELEASE, "1", "-n", NS)
    assert columns(kubectl) == before
    wait_for("the rolled-back operator pod leading", lambda: (pod := release.leading()) not in (None, first, second)
             and "--allow-namespace=shop" not in operator_args(box, pod) and pod, 120)
    assert history(release) == [(1, "superseded"), (2, "superseded"), (3, "deployed")]

    said = release("uninstall", RELEASE, "-n", NS)
    assert CRD in said  # "These resources were kept due to the resource policy"
    wait_for("no pod in the release namespace", lambda: not box.emu.list("pods", NS), 120)  # terminating ones too
    assert release.run("status", RELEASE, "-n", NS).returncode != 0
    left = left_over(kubectl)
    print(f"left after uninstall: {sorted(left)}")
    # Kept on purpose: the CRD (crds.keep) and with it the experiments. The Lease is the operator's, not the
    # chart's (it releases it on SIGTERM); a cluster keeps it too.
    assert left == {f"CustomResourceDefinition/{CRD}", "Lease/chaos-operator-leader"}, left
    assert {o["metadata"]["name"] for o in kubectl.json("get", "cex", "-n", SHOP)["items"]} == {
        "before-upgrade", "after-upgrade"}


def test_without_the_delete_rule_the_installed_operator_gets_403(cluster: tuple[Sandbox, HelmRelease, Kubectl],
                                                                 tmp_path: pathlib.Path) -> None:
    box, release, kubectl = cluster
    release("install", RELEASE, str(chart_without(tmp_path)), "-n", NS, "--create-namespace")
    release.wait_leading()
    # The app's pods: the experiment's load worker pods come and go in SHOP too (load.runner: workers).
    app = "app=checkout"
    before = {p["metadata"]["uid"] for p in box.emu.list("pods", SHOP, label_selector=app)}
    kubectl.apply(experiment("kill-refused"))
    status = wait_phase(box.emu, "kill-refused", DONE, 120, SHOP)
    assert (status["phase"], status["reason"]) == ("Failed", "InjectionFailed"), pretty(status)
    [injection] = status["injections"]
    # The API server's 403 and its sentence, as the installed operator's account got it.
    assert injection["message"].startswith(f"could not delete pod {injection['target']}: (403)"), injection
    assert (f'pods "{injection["target"]}" is forbidden: User "{ACCOUNT}" cannot delete resource "pods" in API '
            f'group "" in the namespace "{SHOP}"') in injection["message"], injection["message"]
    assert {p["metadata"]["uid"] for p in box.emu.list("pods", SHOP, label_selector=app)} == before  # none killed
    release("uninstall", RELEASE, "-n", NS)
