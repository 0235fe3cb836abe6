"""ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1), emulated: on a create or update over HTTP,
every stored policy whose `matchConstraints.resourceRules` match the request and whose `matchConditions` hold is
evaluated, for each binding that names it, after the object passed its schema (as on a cluster). Each
`validations[].expression` is CEL (celpy, as the CRD rules in `admission.py`) over `object`, `oldObject`,
`request`, `namespaceObject`, `variables` (the policy's `variables`, in order), `params` (always null: no
`paramKind` here) and `authorizer`, which answers from the emulator's RBAC for the requesting user
(`authorizer.group('').resource('pods').namespace(ns).check('delete').allowed()`; also `subresource`, `name`,
`path`, `reason`).

A failed validation with `Deny` in the binding's `validationActions` refuses the write with the cluster's Status:
`<resource>.<group> "<name>" is forbidden: ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied
request: <message>`, code and reason from the validation's `reason` (default Invalid, 422); `Warn` adds a
Warning header; `Audit` does nothing here. An expression that errs follows the policy's `failurePolicy` (`Fail`
by default: refused; `Ignore`). Not done: DELETE and CONNECT, `excludeResourceRules`, the selectors of
`matchConstraints` and of a binding's `matchResources`, `paramKind`/`paramRef`, `auditAnnotations`, type checking.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from chaos_sandbox.emulator.rbac import Identity, Request
from chaos_sandbox.emulator.resources import api_error

Obj = Mapping[str, Any]
CODES = {"Forbidden": 403, "Invalid": 422, "RequestEntityTooLarge": 413, "Unauthorized": 401}


class _Check(celtypes.MapType):
    """A value of the CEL authorizer library: a path being built (attrs) or a decision (`decision` set)."""

    def __init__(self, allow: Callable[[Request], tuple[bool, str]], attrs: dict[str, str],
                 decision: tuple[bool, str] | None = None) -> None:
        super().__init__({})
        self.allow, self.attrs, self.decision = allow, attrs, decision

    def _with(self, key: str, value: Any) -> _Check:
        return _Check(self.allow, {**self.attrs, key: str(value)})

    def check(self, verb: Any) -> _Check:
        a = self.attrs
        req = (Request(str(verb), path=a["path"]) if "path" in a else
               Request(str(verb), a.get("group", ""), a.get("resource", ""), a.get("subresource", ""),
                       a.get("namespace", ""), a.get("name", "")))
        return _Check(self.allow, a, self.allow(req))


def _functions() -> dict[str, Callable[..., Any]]:
    def builder(key: str) -> Callable[[_Check, Any], _Check]:
        return lambda target, value: target._with(key, value)
    found: dict[str, Callable[..., Any]] = {k: builder(k) for k in
                                            ("group", "resource", "subresource", "namespace", "name", "path")}
    found["check"] = lambda target, verb: target.check(verb)
    found["allowed"] = lambda target: celtypes.BoolType(bool(target.decision and target.decision[0]))
    found["reason"] = lambda target: celtypes.StringType(target.decision[1] if target.decision else "")
    return found


@functools.lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(expression), functions=_functions())


def evaluate(expression: str, activation: Mapping[str, Any]) -> Any:
    """The value of `expression`; raises ValueError with the evaluator's error when it errs."""
    try:
        result = _program(expression).evaluate(dict(activation))
    except (CELEvalError, CELParseError, TypeError, KeyError, ValueError) as exc:
        raise ValueError(str(exc)) from exc
    if isinstance(result, CELEvalError):
        raise ValueError(str(result.args[0] if result.args else result))
    return result


@dataclass(frozen=True)
class Attempt:
    """What admission knows about one write."""

    operation: str  # CREATE | UPDATE
    group: str
    version: str
    resource: str
    subresource: str
    namespace: str
    kind: str
    who: Identity
    dry_run: bool


def _listed(values: Sequence[str] | None, wanted: str) -> bool:
    return any(v in ("*", wanted) for v in values or ())


def rule_matches(rule: Obj, at: Attempt) -> bool:
    """An admission rule (a RuleWithOperations): `*` is every resource but no subresource, `*/*` everything."""
    if not (_listed(rule.get("operations"), at.operation) and _listed(rule.get("apiGroups"), at.group)
            and _listed(rule.get("apiVersions"), at.version)):
        return False
    combined = f"{at.resource}/{at.subresource}" if at.subresource else at.resource
    return any(r in (combined, "*/*") or (r == "*" and not at.subresource)
               or (r.startswith("*/") and at.subresource == r[2:])
               or (r.endswith("/*") and bool(at.subresource) and r[:-2] == at.resource)
               for r in rule.get("resources") or ())


def _request(at: Attempt, name: str) -> dict[str, Any]:
    gvr = {"group": at.group, "version": at.version, "resource": at.resource}
    return {"operation": at.operation, "name": name, "namespace": at.namespace, "dryRun": at.dry_run,
            "kind": {"group": at.group, "version": at.version, "kind": at.kind}, "resource": gvr,
            "subResource": at.subresource, "userInfo": {"username": at.who.user, "groups": list(at.who.groups)}}


def admit(policies: Sequence[Obj], bindings: Sequence[Obj], at: Attempt, obj: Obj, old: Obj | None,
          namespace: Obj | None, allow: Callable[[Request], tuple[bool, str]]) -> list[str]:
    """Warnings for the response; raises the cluster's Status when a `Deny` binding's validation fails."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    base = {"object": json_to_cel(dict(obj)), "oldObject": json_to_cel(dict(old) if old is not None else None),
            "request": json_to_cel(_request(at, name)), "params": None,
            "namespaceObject": json_to_cel(dict(namespace) if namespace is not None else None),
            "authorizer": _Check(allow, {})}
    warnings: list[str] = []
    for policy in policies:
        spec, pname = policy.get("spec") or {}, policy["metadata"]["name"]
        rules = (spec.get("matchConstraints") or {}).get("resourceRules") or ()
        mine = [b for b in bindings if (b.get("spec") or {}).get("policyName") == pname]
        if not mine or not any(rule_matches(r, at) for r in rules):
            continue
        for binding in mine:
            failed = _failure(spec, dict(base))
            if failed is None:
                continue
            message, reason = failed
            text = f"ValidatingAdmissionPolicy '{pname}' with binding '{binding['metadata']['name']}' denied " \
                   f"request: {message}"
            actions = (binding.get("spec") or {}).get("validationActions") or ()
            if "Warn" in actions:
                warnings.append(text.replace(" denied request: ", ": ").replace(
                    "ValidatingAdmissionPolicy", "Validation failed for ValidatingAdmissionPolicy", 1))
            if "Deny" in actions:
                qualified = f"{at.resource}.{at.group}" if at.group else at.resource
                head = f'{qualified} "{name}" is forbidden' if name else f"{qualified} is forbidden"
                raise api_error(CODES.get(reason, 422), reason, f"{head}: {text}", name=name, group=at.group,
                                kind=at.resource, causes=[{"message": text}])
    return warnings


def _failure(spec: Obj, activation: dict[str, Any]) -> tuple[str, str] | None:
    """(message, reason) of the first validation that fails, or of an error under failurePolicy Fail."""
    fail_closed = spec.get("failurePolicy", "Fail") != "Ignore"
    try:
        variables: dict[str, Any] = {}
        activation["variables"] = celtypes.MapType({})
        for var in spec.get("variables") or ():
            variables[var["name"]] = evaluate(var["expression"], activation)
            activation["variables"] = celtypes.MapType({celtypes.StringType(k): v for k, v in variables.items()})
        for cond in spec.get("matchConditions") or ():
            if not evaluate(cond["expression"], activation):
                return None
    except ValueError as exc:
        return (f"expression resulted in error: {exc}", "Invalid") if fail_closed else None
    for check in spec.get("validations") or ():
        expression = check["expression"]
        try:
            if evaluate(expression, activation):
                continue
        except ValueError as exc:
            if not fail_closed:
                continue
            return f"expression '{expression}' resulted in error: {exc}", str(check.get("reason") or "Invalid")
        message = str(check.get("message") or f"failed expression: {expression}")
        if check.get("messageExpression"):
            try:
                message = str(evaluate(check["messageExpression"], activation)) or message
            except ValueError:
                pass  # a cluster falls back to `message` too
        return message, str(check.get("reason") or "Invalid")
    return None
