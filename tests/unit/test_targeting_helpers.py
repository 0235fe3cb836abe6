from chaos_operator.models.spec import LabelSelector
from chaos_operator.targeting.pods import PodInfo
from chaos_operator.targeting.selection import eligible


def test_helper_pods_are_never_targets() -> None:
    sel = LabelSelector.model_validate({"matchExpressions": [{"key": "app", "operator": "Exists"}]})
    app = PodInfo(name="web-1", namespace="ns", uid="u1", labels={"app": "web"}, ready=True, phase="Running")
    helper = PodInfo(name="co-net-abc", namespace="ns", uid="u2", ready=True, phase="Running",
                     labels={"app": "x", "app.kubernetes.io/managed-by": "chaos-operator"})
    ok, skipped = eligible([app, helper], sel, frozenset(), namespace="ns")
    assert [p.name for p in ok] == ["web-1"]
    assert [str(s) for s in skipped] == ["co-net-abc (a chaos-operator helper pod)"]
