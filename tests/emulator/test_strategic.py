"""Strategic merge patch against known answers: the documented examples of merging a container list by name,
deleting an element with `$patch: delete`, reordering with `$setElementOrder`, and the other directives."""

from __future__ import annotations

from typing import Any

import pytest
from chaos_sandbox.emulator.strategic import StrategicPatchError, strategic_merge


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "spec": {"containers": list(containers), **spec}}


def deploy(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": list(containers)}}}}


WEB = {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}
SIDE = {"name": "side", "image": "redis"}

CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("a container is added beside the others (merged by name)", "Deployment",
     deploy(WEB), deploy(SIDE), deploy(WEB, SIDE)),
    ("an image change keeps the container's other fields", "Deployment",
     deploy(WEB, SIDE), deploy({"name": "web", "image": "nginx:2"}),
     deploy({**WEB, "image": "nginx:2"}, SIDE)),
    ("$patch: delete removes one container by its name", "Pod",
     pod(WEB, SIDE), {"spec": {"containers": [{"name": "web", "$patch": "delete"}]}}, pod(SIDE)),
    ("$setElementOrder reorders, and the added element takes its place", "Deployment",
     deploy(WEB), {"spec": {"template": {"spec": {
         "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}], "containers": [SIDE]}}}},
     deploy(SIDE, WEB)),
    ("$patch: replace in a list replaces it whole", "Pod",
     pod(WEB, SIDE), {"spec": {"containers": [{"$patch": "replace"}, {"name": "x", "image": "busybox"}]}},
     pod({"name": "x", "image": "busybox"})),
    ("$patch: replace on a map drops what the patch does not say", "Pod",
     pod(WEB, securityContext={"runAsUser": 1, "runAsGroup": 1}),
     {"spec": {"securityContext": {"$patch": "replace", "runAsUser": 2}}}, pod(WEB, securityContext={"runAsUser": 2})),
    ("container ports merge by containerPort, env by name", "Pod",
     pod({"name": "web", "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}]}),
     {"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 443}],
                               "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}]}]}},
     pod({"name": "web", "ports": [{"containerPort": 80}, {"containerPort": 443}],
          "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}]})),
    ("Service ports merge by port", "Service",
     {"spec": {"ports": [{"port": 80, "name": "http"}]}}, {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}},
     {"spec": {"ports": [{"port": 80, "name": "http", "targetPort": 8080}]}}),
    ("tolerations and args are atomic: replaced", "Pod",
     pod({"name": "web", "args": ["a", "b"]}, tolerations=[{"key": "x"}]),
     {"spec": {"tolerations": [{"key": "y"}], "containers": [{"name": "web", "args": ["c"]}]}},
     pod({"name": "web", "args": ["c"]}, tolerations=[{"key": "y"}])),
    ("null deletes a field; volumeMounts merge by mountPath", "Pod",
     pod({"name": "web", "image": "i", "volumeMounts": [{"mountPath": "/a", "name": "v"}]}),
     {"spec": {"containers": [{"name": "web", "image": None, "volumeMounts": [{"mountPath": "/b", "name": "w"}]}]}},
     pod({"name": "web", "volumeMounts": [{"mountPath": "/a", "name": "v"}, {"mountPath": "/b", "name": "w"}]})),
    ("finalizers merge as a set; $deleteFromPrimitiveList removes one", "ConfigMap",
     {"metadata": {"finalizers": ["a", "b"]}},
     {"metadata": {"finalizers": ["c", "a"], "$deleteFromPrimitiveList/finalizers": ["b"]}},
     {"metadata": {"finalizers": ["a", "c"]}}),
    ("$retainKeys clears the union member not named (a rolling update to Recreate)", "Deployment",
     {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
     {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
     {"spec": {"strategy": {"type": "Recreate"}}}),
    ("a CronJob's pod template merges its containers too", "CronJob",
     {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [WEB]}}}}}},
     {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "n:2"}]}}}}}},
     {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{**WEB, "image": "n:2"}]}}}}}}),
    ("$patch: delete on a map field removes it", "Pod",
     pod(WEB, securityContext={"runAsUser": 1}), {"spec": {"securityContext": {"$patch": "delete"}}}, pod(WEB)),
]


@pytest.mark.parametrize(("kind", "target", "patch", "expected"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_strategic_merge(kind: str, target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]) -> None:
    before = repr(target)
    assert strategic_merge(target, patch, kind) == expected
    assert repr(target) == before  # the input is untouched


def test_set_element_order_keeps_server_only_elements_in_place() -> None:
    three = deploy({"name": "a"}, {"name": "server-only"}, {"name": "b"})
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}}}
    assert strategic_merge(three, patch, "Deployment") == deploy({"name": "b"}, {"name": "server-only"}, {"name": "a"})


@pytest.mark.parametrize("patch", [
    {"spec": {"containers": [{"image": "no-name"}]}},
    {"spec": {"containers": ["not-a-map"]}},
    {"spec": {"$patch": "bogus"}},
    ["not", "a", "map"],
])
def test_malformed_patches_are_refused(patch: Any) -> None:
    with pytest.raises(StrategicPatchError):
        strategic_merge(pod(WEB), patch, "Pod")
