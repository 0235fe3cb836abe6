"""The Helm chart through the real Helm engine (Helm v4's Go SDK via the helm-python-sdk package)."""

from __future__ import annotations

import pathlib
import shutil
from collections.abc import Mapping
from typing import Any

import helm_python as helm
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "chaos-operator"
CANONICAL_CRD = ROOT / "crds" / "chaosoperator.dev_chaosexperiments.yaml"
RELEASE, NAMESPACE = "chaos-operator", "chaos-system"
# The namespace the scenarios watch in namespaced mode, and the example schedules.
NAMESPACED = {"watchNamespaces": ["shop", "payments"]}
SCHEDULE_VALUES = CHART / "ci" / "schedule-values.yaml"

helm.disable_logging()  # the loader logs the files/crds link on every load


def render_files(values: Mapping[str, Any] | None = None, chart: pathlib.Path = CHART, *,
                 upgrade: bool = False, namespace: str = NAMESPACE) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` (install or upgrade) would produce it."""
    with helm.Chart.load(chart) as loaded:
        return loaded.render(values=dict(values or {}), name=RELEASE, namespace=namespace,
                             is_install=not upgrade, is_upgrade=upgrade)


def render(values: Mapping[str, Any] | None = None, chart: pathlib.Path = CHART, *,
           upgrade: bool = False) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders (NOTES.txt is not one)."""
    objects: list[dict[str, Any]] = []
    for path, text in sorted(render_files(values, chart, upgrade=upgrade).items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def schedule_values() -> dict[str, Any]:
    data = yaml.safe_load(SCHEDULE_VALUES.read_text())
    assert isinstance(data, dict)
    return data


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} among {[o['kind'] for o in objects]}"
    return found[0]


def container_args(objects: list[dict[str, Any]]) -> list[str]:
    """The operator's argv after the image's entrypoint, with the env references Kubernetes expands."""
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    return [str(a).replace("$(POD_NAMESPACE)", NAMESPACE) for a in args]


# The chart's PodKill rule (delete pods): removed, the operator's kill is refused with 403.
KILL_RULE = """
- apiGroups: [""]
  resources: [pods]
  verbs: [delete]
"""


def changed_chart(tmp: pathlib.Path) -> pathlib.Path:
    """A copy of the chart, version 0.2.0, whose CRD has one more printer column and one more spec field."""
    chart = tmp / "chart-0.2.0"
    shutil.copytree(CHART, chart, symlinks=False)  # files/crds is a link: copied as files
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    (chart / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": "0.2.0"}))
    crd_file = chart / "files" / "crds" / "chaosoperator.dev_chaosexperiments.yaml"
    crd = yaml.safe_load(crd_file.read_text())
    version = crd["spec"]["versions"][0]
    version["additionalPrinterColumns"].append({"name": "Owner", "type": "string", "jsonPath": ".spec.owner"})
    version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["owner"] = {"type": "string"}
    crd_file.write_text(yaml.safe_dump(crd, sort_keys=False))
    return chart


def chart_without(tmp: pathlib.Path, rule: str = KILL_RULE) -> pathlib.Path:
    """A copy of the chart with one RBAC rule (text of templates/rbac.yaml, found exactly once) removed."""
    chart = tmp / "chart-without-rule"
    shutil.copytree(CHART, chart)
    rbac = chart / "templates" / "rbac.yaml"
    text = rbac.read_text()
    assert text.count(rule) == 1, rule
    rbac.write_text(text.replace(rule, "\n"))
    return chart
