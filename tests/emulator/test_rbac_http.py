"""RBAC enforced by the emulator over real HTTP: a ServiceAccount token and two kubeconfig users (the
administrator, and a restricted user by impersonation) against stored Roles and bindings; 403 with the API server's
Status, `kubectl auth can-i` (SelfSubjectAccessReview) and SubjectAccessReview."""

from __future__ import annotations

import json
import pathlib
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_sandbox.emulator import Emulator, EmulatorThread

from tests.support.kubectl import Kubectl, run

NS = "shop"
SA_USER = "system:serviceaccount:chaos-system:op"


def call(emu: EmulatorThread, method: str, path: str, token: str = "", body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(emu.url + path, method=method, headers=sent,
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture()
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(Emulator(authorization="RBAC")) as emu:
        emu.create("namespaces", {"metadata": {"name": NS}})
        emu.create("pods", {"metadata": {"name": "web-0", "namespace": NS}, "spec": {"containers": []}}, NS)
        emu.create("clusterroles", {"metadata": {"name": "pod-reader"},
                                    "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]})
        for name, subject in (("op-reads", {"kind": "ServiceAccount", "name": "op", "namespace": "chaos-system"}),
                              ("dev-reads", {"kind": "User", "name": "dev"})):
            emu.create("rolebindings", {"metadata": {"name": name, "namespace": NS}, "subjects": [subject],
                                        "roleRef": {"kind": "ClusterRole", "name": "pod-reader"}}, NS)
        yield emu


def test_a_service_account_token_gets_what_its_roles_grant_and_403_otherwise(emu: EmulatorThread) -> None:
    token = emu.emulator.auth.issue_token("chaos-system", "op")
    assert call(emu, "GET", f"/api/v1/namespaces/{NS}/pods", token)[0] == 200
    status, body = call(emu, "DELETE", f"/api/v1/namespaces/{NS}/pods/web-0", token)
    assert status == 403
    assert body["message"] == (f'pods "web-0" is forbidden: User "{SA_USER}" cannot delete resource "pods" in API '
                               f'group "" in the namespace "{NS}"')
    assert (body["kind"], body["reason"], body["details"]) == ("Status", "Forbidden",
                                                               {"name": "web-0", "group": "", "kind": "pods"})
    status, body = call(emu, "GET", "/api/v1/pods", token)  # granted in one namespace, not across all
    assert status == 403 and body["message"].endswith('in API group "" at the cluster scope')
    assert emu.get("pods", NS, "web-0") is not None
    assert call(emu, "GET", "/apis", token)[0] == 200  # discovery: every authenticated user
    assert call(emu, "GET", "/api/v1/pods", "not-issued") == (401, call(emu, "GET", "/api", "not-issued")[1])
    assert call(emu, "GET", "/api", "not-issued")[1]["reason"] == "Unauthorized"


def test_impersonation_needs_the_right_to_impersonate(emu: EmulatorThread) -> None:
    token = emu.emulator.auth.issue_token("chaos-system", "op")
    status, body = call(emu, "GET", f"/api/v1/namespaces/{NS}/pods", token, headers={"Impersonate-User": "root"})
    assert status == 403
    assert body["message"] == (f'users "root" is forbidden: User "{SA_USER}" cannot impersonate resource "users" '
                               'in API group "" at the cluster scope')


def test_kubectl_auth_can_i_for_the_admin_and_a_restricted_user(emu: EmulatorThread, tmp_path: pathlib.Path) -> None:
    admin = emu.write_kubeconfig(tmp_path / "admin", NS)
    dev = emu.write_kubeconfig(tmp_path / "dev", NS, user="dev", groups=["developers"])
    assert run(admin, "auth", "can-i", "delete", "pods").stdout.strip() == "yes"
    assert run(dev, "auth", "can-i", "list", "pods").stdout.strip() == "yes"
    refused = run(dev, "auth", "can-i", "delete", "pods")
    assert (refused.returncode, refused.stdout.strip()) == (1, "no")
    assert run(dev, "auth", "can-i", "list", "pods", "-n", "default").stdout.strip() == "no"
    assert "web-0" in Kubectl(dev, tmp_path)("get", "pods")
    denied = run(dev, "delete", "pod", "web-0")
    assert denied.returncode != 0
    assert ('Error from server (Forbidden): pods "web-0" is forbidden: User "dev" cannot delete resource "pods" in '
            f'API group "" in the namespace "{NS}"') in denied.stderr
    Kubectl(admin, tmp_path)("delete", "pod", "web-0")
    assert emu.get("pods", NS, "web-0") is None


def test_subject_access_review_answers_for_another_identity(emu: EmulatorThread) -> None:
    def review(verb: str, user: str, groups: list[str]) -> dict[str, Any]:
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": user, "groups": groups,
                         "resourceAttributes": {"namespace": NS, "verb": verb, "resource": "pods"}}}
        status, answer = call(emu, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=body)
        assert status == 201, answer
        return dict(answer["status"])
    assert review("list", SA_USER, ["system:serviceaccounts"]) == {"allowed": True}
    assert review("delete", SA_USER, ["system:serviceaccounts"]) == {"allowed": False}
    assert review("delete", "someone", ["system:masters"]) == {"allowed": True}
    token = emu.emulator.auth.issue_token("chaos-system", "op")  # a SubjectAccessReview is not for everyone
    status, body = call(emu, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", token,
                        body={"spec": {"user": "x", "nonResourceAttributes": {"path": "/", "verb": "get"}}})
    assert status == 403 and "cannot create resource \"subjectaccessreviews\"" in body["message"]


def test_kubectl_create_token_gives_the_service_accounts_identity(emu: EmulatorThread, tmp_path: pathlib.Path) -> None:
    admin = Kubectl(emu.write_kubeconfig(tmp_path / "admin", NS), tmp_path)
    admin("create", "namespace", "chaos-system")
    admin("create", "serviceaccount", "op", "-n", "chaos-system")
    token = admin("create", "token", "op", "-n", "chaos-system").strip()
    assert call(emu, "GET", f"/api/v1/namespaces/{NS}/pods", token)[0] == 200
    status, body = call(emu, "DELETE", f"/api/v1/namespaces/{NS}/pods/web-0", token)
    assert status == 403 and f'User "{SA_USER}" cannot delete' in body["message"]
    missing = run(admin.kubeconfig, "create", "token", "nobody", "-n", "chaos-system")
    assert missing.returncode != 0 and '"nobody" not found' in missing.stderr
