import pytest
from pydantic import ValidationError

from chaos_operator.models.errors import describe, field_path
from chaos_operator.models.spec import ExperimentSpec

BASE = {"target": {"selector": {"matchLabels": {"app": "x"}}}, "fault": {"kind": "PodKill"},
        "load": {"service": {"name": "x", "port": 80}}}


@pytest.mark.parametrize(("loc", "path"), [
    (("target", "selector"), "spec.target.selector"),
    (("target", "selector", "matchExpressions", 2, "key"), "spec.target.selector.matchExpressions[2].key"),
    (("load", "function-after[_timeout_range()]"), "spec.load"),
])
def test_field_path(loc: tuple[int | str, ...], path: str) -> None:
    assert field_path(loc, "spec") == path


@pytest.mark.parametrize(("patch", "path"), [
    ({"load": {"service": {"name": "x", "port": 0}}}, "spec.load.service.port"),
    ({"phases": {"chaos": "2h"}}, "spec.phases.chaos"),
    ({"fault": {"kind": "PodKill", "latency": "1s"}}, "spec.fault.latency"),
])
def test_describe_names_the_field(patch: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationError) as info:
        ExperimentSpec.model_validate({**BASE, **patch})
    assert describe(info.value, "spec").startswith(path + ":")
