"""Kubernetes protobuf request bodies, read for the kinds clients are known to send that way.

client-go's typed clients (Helm's release storage among them) send protobuf and do not fall back to JSON on 415.
So the kinds they write are decoded here: Secret, ConfigMap, Namespace, the DeleteOptions of a delete, and the
access reviews and TokenRequests kubectl sends (`kubectl auth can-i`, `kubectl create token`) with the
ServiceAccount (`kubectl create serviceaccount`),
by the field numbers of Kubernetes' published `.proto` files. Any other protobuf body gets 415; responses are
always JSON, which those clients accept too.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

MAGIC = b"k8s\x00"
Schema = dict[int, tuple[str, str]]  # field number -> (JSON name, how to read it)

TIME: Schema = {1: ("seconds", "int"), 2: ("nanos", "int")}
OWNER: Schema = {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"), 5: ("apiVersion", "str"),
                 6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
META: Schema = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"), 5: ("uid", "str"),
                6: ("resourceVersion", "str"), 7: ("generation", "int"), 8: ("creationTimestamp", "time"),
                11: ("labels", "map"), 12: ("annotations", "map"), 13: ("ownerReferences", "owners"),
                14: ("finalizers", "strs")}
KINDS: dict[str, Schema] = {
    "Secret": {1: ("metadata", "meta"), 2: ("data", "map64"), 3: ("type", "str"), 4: ("stringData", "map"),
               5: ("immutable", "bool")},
    "ConfigMap": {1: ("metadata", "meta"), 2: ("data", "map"), 3: ("binaryData", "map64"), 4: ("immutable", "bool")},
    "Namespace": {1: ("metadata", "meta"), 2: ("spec", "nsspec")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int"), 2: ("preconditions", "preconditions"),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "str"), 5: ("dryRun", "strs")},
    "SelfSubjectAccessReview": {1: ("metadata", "meta"), 2: ("spec", "selfreview")},
    "SubjectAccessReview": {1: ("metadata", "meta"), 2: ("spec", "review")},
    "TokenRequest": {1: ("metadata", "meta"), 2: ("spec", "tokenspec")},
    "ServiceAccount": {1: ("metadata", "meta"), 4: ("automountServiceAccountToken", "bool")},
}
ATTRIBUTES: Schema = {1: ("namespace", "str"), 2: ("verb", "str"), 3: ("group", "str"), 4: ("version", "str"),
                      5: ("resource", "str"), 6: ("subresource", "str"), 7: ("name", "str")}
SELF_REVIEW: Schema = {1: ("resourceAttributes", "attributes"), 2: ("nonResourceAttributes", "path")}
NESTED: dict[str, Schema] = {"meta": META, "owners": OWNER, "nsspec": {1: ("finalizers", "strs")},
                             "preconditions": {1: ("uid", "str"), 2: ("resourceVersion", "str")},
                             "attributes": ATTRIBUTES, "path": {1: ("path", "str"), 2: ("verb", "str")},
                             "selfreview": SELF_REVIEW,
                             "tokenspec": {1: ("audiences", "strs"), 4: ("expirationSeconds", "int")},
                             "review": {**SELF_REVIEW, 3: ("user", "str"), 4: ("groups", "strs"), 6: ("uid", "str")}}


class ProtobufError(ValueError):
    """Not a protobuf body this emulator reads."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    for _ in range(10):  # a varint has at most 10 bytes
        if pos >= len(data):
            break
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    raise ProtobufError("truncated or overlong varint")


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one message: varints as int, length-delimited as bytes."""
    found: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            found.append((number, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ProtobufError("truncated field")
            found.append((number, data[pos:pos + size]))
            pos += size
        elif wire in (1, 5):  # fixed 64/32 bits: not in the kinds read here, skipped
            pos += 8 if wire == 1 else 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return found


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("a string field holds a number")
    return value.decode()


def _entry(value: int | bytes) -> tuple[str, bytes]:
    pairs = dict(fields(value if isinstance(value, bytes) else b""))
    key, item = pairs.get(1, b""), pairs.get(2, b"")
    return _text(key), item if isinstance(item, bytes) else b""


def message(data: bytes, schema: Schema) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, value in fields(data):
        if number not in schema:
            continue  # what the emulator does not keep (managedFields, status, ...)
        name, how = schema[number]
        if how == "str":
            obj[name] = _text(value)
        elif how in ("int", "bool"):
            obj[name] = bool(value) if how == "bool" else value
        elif how == "strs":
            obj.setdefault(name, []).append(_text(value))
        elif how in ("map", "map64"):
            key, item = _entry(value)
            obj.setdefault(name, {})[key] = base64.b64encode(item).decode() if how == "map64" else item.decode()
        elif how == "time":
            seconds = message(value if isinstance(value, bytes) else b"", TIME).get("seconds", 0)
            obj[name] = datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif how == "owners":
            obj.setdefault(name, []).append(message(value if isinstance(value, bytes) else b"", OWNER))
        else:
            obj[name] = message(value if isinstance(value, bytes) else b"", NESTED[how])
    return obj


def decode(raw: bytes) -> dict[str, Any]:
    """A `k8s\\0`-framed body (runtime.Unknown: type meta, then the object's bytes) as the JSON a client would send."""
    if not raw.startswith(MAGIC):
        raise ProtobufError("no Kubernetes protobuf envelope")
    envelope = {number: value for number, value in fields(raw[len(MAGIC):]) if isinstance(value, bytes)}
    type_meta = message(envelope.get(1, b""), {1: ("apiVersion", "str"), 2: ("kind", "str")})
    kind = type_meta.get("kind", "")
    if kind not in KINDS:
        raise ProtobufError(f"protobuf bodies of kind {kind or '(none)'} are not read here")
    obj = message(envelope.get(2, b""), KINDS[kind])
    return {"apiVersion": type_meta.get("apiVersion", "v1"), "kind": kind, **obj}
