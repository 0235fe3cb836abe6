"""The emulator's ValidatingAdmissionPolicy evaluation (sandbox/chaos_sandbox/emulator/vap.py) against the
behaviour docs/sandbox.md lists: rule matching, failurePolicy, message/messageExpression, reason, Warn."""

from __future__ import annotations

from typing import Any

import pytest
from chaos_sandbox.emulator.rbac import Identity, Request
from chaos_sandbox.emulator.resources import ApiError
from chaos_sandbox.emulator.vap import Attempt, admit, rule_matches

WHO = Identity("dev", ("system:authenticated",))
AT = Attempt("CREATE", "apps", "v1", "deployments", "", "shop", "Deployment", WHO, False)
OBJ = {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 7}}


def policy(*validations: dict[str, Any], failure: str = "Fail") -> dict[str, Any]:
    rules = [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"]}]
    return {"metadata": {"name": "p"}, "spec": {"failurePolicy": failure, "matchConstraints": {"resourceRules": rules},
                                                "validations": list(validations)}}


def binding(*actions: str) -> dict[str, Any]:
    return {"metadata": {"name": "b"}, "spec": {"policyName": "p", "validationActions": list(actions)}}


def only_get(req: Request) -> tuple[bool, str]:
    return req.verb == "get", ""


def refusal(pol: dict[str, Any], at: Attempt = AT) -> ApiError:
    with pytest.raises(ApiError) as caught:
        admit([pol], [binding("Deny")], at, OBJ, None, None, only_get)
    return caught.value


@pytest.mark.parametrize(("resource", "sub", "matches"), [
    ("deployments", "", True), ("deployments", "status", False), ("*", "", True), ("*", "status", False),
    ("*/*", "status", True), ("*/status", "status", True), ("deployments/*", "scale", True),
])
def test_rule_resources(resource: str, sub: str, matches: bool) -> None:
    rule = {"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": [resource]}
    at = Attempt("UPDATE", "apps", "v1", "deployments", sub, "shop", "Deployment", WHO, False)
    assert rule_matches(rule, at) is matches


def test_default_reason_is_invalid_and_message_defaults_to_the_expression() -> None:
    error = refusal(policy({"expression": "object.spec.replicas <= 5"}))
    assert (error.status, error.reason) == (422, "Invalid")
    assert error.message == ('deployments.apps "web" is forbidden: ValidatingAdmissionPolicy \'p\' with binding \'b\' '
                             "denied request: failed expression: object.spec.replicas <= 5")


def test_message_expression_reason_and_the_authorizer() -> None:
    check = "authorizer.group('apps').resource('deployments').namespace(request.namespace).check('delete').allowed()"
    error = refusal(policy({"expression": check, "reason": "Forbidden", "message": "static",
                            "messageExpression": "request.userInfo.username + ' may not delete'"}))
    assert (error.status, error.message.rsplit(": ", 1)[1]) == (403, "dev may not delete")
    allowed = "authorizer.group('apps').resource('deployments').namespace('shop').check('get').allowed()"
    assert admit([policy({"expression": allowed})], [binding("Deny")], AT, OBJ, None, None, only_get) == []


def test_failure_policy_on_an_error() -> None:
    broken = {"expression": "object.spec.missing > 1"}
    assert "resulted in error" in refusal(policy(broken)).message
    assert admit([policy(broken, failure="Ignore")], [binding("Deny")], AT, OBJ, None, None, only_get) == []


def test_warn_and_audit_do_not_refuse_and_unbound_or_unmatched_policies_do_nothing() -> None:
    failing = policy({"expression": "false", "message": "no"})
    assert admit([failing], [binding("Warn", "Audit")], AT, OBJ, None, None, only_get) == [
        "Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': no"]
    assert admit([failing], [], AT, OBJ, None, None, only_get) == []
    update = Attempt("UPDATE", "apps", "v1", "deployments", "", "shop", "Deployment", WHO, False)
    assert admit([failing], [binding("Deny")], update, OBJ, OBJ, None, only_get) == []
