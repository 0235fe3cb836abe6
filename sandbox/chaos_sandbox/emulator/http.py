"""The HTTP side of the API emulator: reading a request's path, verb and body, writing JSON and Status answers,
and the record of calls served (`ApiCall`, `ALL_CALLS`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiohttp.web
import yaml

from chaos_sandbox.emulator import protobuf
from chaos_sandbox.emulator.protobuf import ProtobufError
from chaos_sandbox.emulator.resources import ApiError, api_error

JSON = "application/json"
# Subresources of a Namespace: /api/v1/namespaces/NAME/status is not "the status resource in namespace NAME".
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


class ApiCall(NamedTuple):
    """One kind of request served, in the terms of Kubernetes RBAC. `namespace` is "" for cluster-scoped
    objects and for requests across all namespaces; `user` is the bearer token the request carried, if any (it
    stands for the identity that holds it; `authz.py` authenticates it); `client` is the program
    its User-Agent names ("kopf", "chaos-operator", "kubectl", "OpenAPI-Generator" for other Python clients)."""

    verb: str  # get | list | watch | create | update | patch | delete | deletecollection
    group: str  # "" for the core group
    resource: str
    subresource: str
    namespace: str
    user: str = ""
    client: str = ""


# Every call any Emulator in this process served: a pytest session can read it at the end (see emulator.py).
ALL_CALLS: set[ApiCall] = set()


@dataclass(frozen=True)
class Target:
    """What an object request (`/api/V/...` or `/apis/G/V/...` below the group/version) is about."""

    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str | None

    @classmethod
    def parse(cls, group: str, version: str, rest: list[str]) -> Target:
        namespace = None
        namespace_sub = not group and len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES
        if len(rest) >= 3 and rest[0] == "namespaces" and not namespace_sub:
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3 or not all(rest):
            raise api_error(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        return cls(group, version, rest[0], namespace, name, rest[2] if len(rest) > 2 else None)


def verb_of(method: str, target: Target, watch: bool) -> str:
    if method == "GET":
        return "watch" if watch else ("get" if target.name else "list")
    if method == "DELETE":
        return "delete" if target.name else "deletecollection"
    verbs = {"POST": "create", "PUT": "update", "PATCH": "patch"}
    if method not in verbs:
        raise api_error(405, "MethodNotAllowed", f"{method} is not supported here")
    return verbs[method]


def client_name(request: aiohttp.web.BaseRequest) -> str:
    """The product in the User-Agent: `kopf/1.37.2` -> `kopf`."""
    return request.headers.get("User-Agent", "").split("/")[0].split(" ")[0]


def bearer(request: aiohttp.web.BaseRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def read_body(request: aiohttp.web.BaseRequest) -> Any:
    content_type = request.headers.get("Content-Type", "")
    raw = await request.read()
    if "protobuf" in content_type:
        try:
            return protobuf.decode(raw)
        except ProtobufError as exc:
            raise unsupported(content_type, str(exc)) from exc
    if "cbor" in content_type:
        raise unsupported(content_type, "CBOR is not read")  # client-go resends CBOR as JSON after a 415
    if not raw.strip():
        return None
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise api_error(400, "BadRequest", f"the request body is not valid: {exc}") from exc


def unsupported(content_type: str, why: str) -> ApiError:
    return api_error(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: "
                     f"{content_type.split(';')[0]} ({why}); accepted media types: application/json, "
                     "application/yaml")


def int_param(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise api_error(400, "BadRequest", f"{name} must be an integer, not {raw!r}") from None


def respond(body: Any, status: int = 200, warnings: list[str] | None = None) -> aiohttp.web.Response:
    headers = {"Content-Type": JSON}
    response = aiohttp.web.Response(status=status, body=json.dumps(body).encode(), headers=headers)
    for warning in warnings or ():
        # The form a real server uses (a quoted string), which kubectl prints as "Warning: ...".
        quoted = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{quoted}"')
    return response


def respond_error(exc: ApiError) -> aiohttp.web.Response:
    return respond(exc.body(), exc.status)
