"""The CRD ships as a template (Helm applies templates on every upgrade; it never touches a chart's crds/
directory after the first install), byte for byte the canonical file plus one annotation that keeps it
(and every experiment) when the release is uninstalled."""

from __future__ import annotations

import pathlib
import shutil

import helm_python as helm
import yaml

from tests.support.chart import CANONICAL_CRD, CHART, one, render, render_files

TEMPLATE = "chaos-operator/templates/crd.yaml"
KEEP = "  annotations:\n    helm.sh/resource-policy: keep\n"


def with_keep(canonical: str) -> str:
    """The canonical text with exactly the two annotation lines after the top-level `metadata:` line."""
    assert canonical.count("\nmetadata:\n") == 1 and "\n  annotations:" not in canonical.split("\nspec:\n")[0]
    head, tail = canonical.split("\nmetadata:\n")
    return f"{head}\nmetadata:\n{KEEP}{tail}"


def test_rendered_crd_is_the_canonical_file_plus_the_keep_annotation() -> None:
    canonical = CANONICAL_CRD.read_text()
    rendered = render_files()[TEMPLATE]
    assert rendered == with_keep(canonical)
    assert rendered.replace(KEEP, "", 1) == canonical
    crd = one(render(), "CustomResourceDefinition")
    expected = yaml.safe_load(canonical)
    assert crd["metadata"].pop("annotations") == {"helm.sh/resource-policy": "keep"}
    assert crd == expected


def test_without_keep_it_is_the_canonical_file_exactly() -> None:
    assert render_files({"crds": {"keep": False}})[TEMPLATE] == CANONICAL_CRD.read_text()


def test_a_second_release_can_leave_the_crd_to_the_first() -> None:
    assert [o for o in render({"crds": {"install": False}}) if o["kind"] == "CustomResourceDefinition"] == []


def test_the_chart_has_no_crds_directory_helm_would_never_upgrade() -> None:
    assert not (CHART / "crds").exists()
    with helm.Chart.load(CHART) as chart:
        assert chart.crds == []


def test_an_upgrade_renders_the_new_crd(tmp_path: pathlib.Path) -> None:
    """A chart whose CRD gained a field renders that new CRD on `helm upgrade`, not the installed one."""
    chart = tmp_path / "chaos-operator"
    shutil.copytree(CHART, chart, symlinks=False)  # as `helm package` does: the link's content is copied
    crd_file = chart / "files" / "crds" / CANONICAL_CRD.name
    column = "      additionalPrinterColumns:\n"
    newer = CANONICAL_CRD.read_text().replace(
        column, column + "        - name: Target\n          type: string\n          jsonPath: .spec.target.mode\n", 1)
    assert newer != CANONICAL_CRD.read_text()
    crd_file.write_text(newer)
    upgraded = render_files(chart=chart, upgrade=True)[TEMPLATE]
    assert upgraded == with_keep(newer)
    served = yaml.safe_load(upgraded)["spec"]["versions"][0]["additionalPrinterColumns"]
    assert served[0] == {"name": "Target", "type": "string", "jsonPath": ".spec.target.mode"}
    assert render_files(upgrade=True)[TEMPLATE] == with_keep(CANONICAL_CRD.read_text())
