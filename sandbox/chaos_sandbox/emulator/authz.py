"""Who a request is from (authentication) and whether it may be served (authorization), for the emulator.

Authentication:
- a bearer token the emulator issued (`Auth.issue_token` for a ServiceAccount, `Auth.add_user` for a
  kubeconfig user) is that identity; with RBAC on, any other token is 401 Unauthorized (with RBAC off it stands
  for itself, the identity the recorded calls name);
- a request without credentials is the sandbox's administrator (`sandbox-admin`, group `system:masters`): the
  emulator listens on 127.0.0.1 only, like the API server's old insecure port. kubectl sends no bearer token
  over plain HTTP (tried: the header is left out), so kubectl reaches the emulator this way and takes another
  identity with impersonation headers (`Impersonate-User`, `Impersonate-Group`: the kubeconfig's `as` and
  `as-groups`), which the caller must be allowed (`impersonate` users/groups, as on a cluster).

Authorization, `mode`: "RBAC" checks every request with `rbac.py` against the stored objects, `system:masters`
always allowed; "AlwaysAllow" allows everything (unit-level harnesses that store no RBAC). Either way,
discovery, `/version`, `/openapi` and self-reviews are allowed to every authenticated user, as a cluster's
bootstrap roles (system:discovery, system:basic-user) do.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chaos_sandbox.emulator.rbac import SA_PREFIX, Identity, Policy, Request, authorize, forbidden_message
from chaos_sandbox.emulator.resources import api_error

MODES = ("AlwaysAllow", "RBAC")
ADMIN = Identity("sandbox-admin", ("system:masters", "system:authenticated"))
REVIEW_GROUP = "authorization.k8s.io"
BOOTSTRAP_RULES: tuple[Mapping[str, Any], ...] = (
    {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/version", "/version/",
                                           "/openapi", "/openapi/*", "/healthz", "/livez", "/readyz"]},
    {"verbs": ["create"], "apiGroups": [REVIEW_GROUP],
     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
)
BOOTSTRAP = {"kind": "ClusterRoleBinding", "metadata": {"name": "emulator:bootstrap"},
             "roleRef": {"kind": "ClusterRole", "name": "emulator:bootstrap"},
             "subjects": [{"kind": "Group", "name": "system:authenticated"}]}
BOOTSTRAP_ROLE = {"kind": "ClusterRole", "metadata": {"name": "emulator:bootstrap"}, "rules": list(BOOTSTRAP_RULES)}


class Auth:
    """`policy` returns the stored RBAC objects (the emulator reads its store)."""

    def __init__(self, mode: str, policy: Callable[[], Policy]) -> None:
        if mode not in MODES:
            raise ValueError(f"authorization mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self.policy = policy
        self.tokens: dict[str, Identity] = {}

    def issue_token(self, namespace: str, name: str, token: str | None = None) -> str:
        """A token for ServiceAccount NAMESPACE/NAME (what a cluster mounts into that account's pods)."""
        token = token or f"csbx-sa.{namespace}.{name}.{secrets.token_hex(8)}"
        self.tokens[token] = Identity.service_account(namespace, name)
        return token

    def token_request(self, namespace: str, name: str, body: Any) -> dict[str, Any]:
        """Answer a TokenRequest (`kubectl create token NAME`): a new token for the ServiceAccount. It never
        expires here; the expiration the answer names is what was asked (default one hour)."""
        spec = dict((body or {}).get("spec") or {})
        spec.setdefault("expirationSeconds", 3600)
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=int(spec["expirationSeconds"]))
        return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "metadata": {"name": name, "namespace": namespace}, "spec": spec,
                "status": {"token": self.issue_token(namespace, name),
                           "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}

    def add_user(self, user: str, groups: Sequence[str] = (), token: str | None = None) -> str:
        """A user (of a kubeconfig, say) and the token that stands for them."""
        token = token or f"csbx-user.{user}.{secrets.token_hex(8)}"
        self.tokens[token] = Identity(user, (*groups, "system:authenticated"))
        return token

    def authenticate(self, token: str, headers: Mapping[str, str], impersonate_groups: Sequence[str]) -> Identity:
        if not token:
            who = ADMIN
        elif token in self.tokens:
            who = self.tokens[token]
        elif self.mode == "RBAC":
            raise api_error(401, "Unauthorized", "Unauthorized")
        else:
            who = Identity(token, ("system:authenticated",))
        user = headers.get("Impersonate-User", "")
        if not user:
            return who
        for verb_target in [("users", user)] + [("groups", g) for g in impersonate_groups]:
            self.check(who, Request("impersonate", "", verb_target[0], name=verb_target[1]))
        groups = tuple(impersonate_groups)
        if user.startswith(SA_PREFIX) and not groups:
            namespace, _, name = user[len(SA_PREFIX):].partition(":")
            return Identity.service_account(namespace, name)
        return Identity(user, (*groups, "system:authenticated"))

    def allowed(self, who: Identity, req: Request) -> tuple[bool, str]:
        if self.mode == "AlwaysAllow" or "system:masters" in who.groups:
            return True, ""
        stored = self.policy()
        policy = stored._replace(cluster_roles=[*stored.cluster_roles, BOOTSTRAP_ROLE],
                                 cluster_role_bindings=[*stored.cluster_role_bindings, BOOTSTRAP])
        return authorize(who, req, policy)

    def check(self, who: Identity, req: Request) -> None:
        """Raise the API server's 403 Forbidden unless `who` may make `req`."""
        allowed, reason = self.allowed(who, req)
        if not allowed:
            name = req.name if req.is_resource else ""
            raise api_error(403, "Forbidden", forbidden_message(who, req, reason), name=name, group=req.group,
                            kind=req.resource)

    def review(self, who: Identity, plural: str, body: Any) -> dict[str, Any]:
        """Answer a SelfSubjectAccessReview (for `who`) or a SubjectAccessReview (for its spec's user)."""
        spec = (body or {}).get("spec") or {}
        if plural == "subjectaccessreviews":
            subject = Identity(str(spec.get("user") or ""), tuple(spec.get("groups") or ()))
            if spec.get("uid") is None and not subject.user and not subject.groups:
                raise api_error(422, "Invalid", "SubjectAccessReview.authorization.k8s.io is invalid: "
                                "spec.user: Invalid value: \"\": at least one of user or group must be specified")
        else:
            subject = who
        attrs, path = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if attrs:
            req = Request(str(attrs.get("verb", "")), str(attrs.get("group", "")), str(attrs.get("resource", "")),
                          str(attrs.get("subresource", "")), str(attrs.get("namespace", "")),
                          str(attrs.get("name", "")))
        elif path:
            req = Request(str(path.get("verb", "")), path=str(path.get("path", "")))
        else:
            raise api_error(422, "Invalid", "resourceAttributes or nonResourceAttributes must be set")
        allowed, reason = self.allowed(subject, req)
        status: dict[str, Any] = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        kind = "SubjectAccessReview" if plural == "subjectaccessreviews" else "SelfSubjectAccessReview"
        return {"apiVersion": f"{REVIEW_GROUP}/v1", "kind": kind, "metadata": (body or {}).get("metadata") or {},
                "spec": spec, "status": status}
