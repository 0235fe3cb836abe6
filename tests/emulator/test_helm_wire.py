"""What Helm's client needs of the wire: a semver-clean version, Secrets, protobuf bodies of the kinds typed
clients send (else 415), no OpenAPI v2 listed."""

from __future__ import annotations

import base64
import json
import urllib.request

from chaos_sandbox.emulator import EmulatorThread

from tests.emulator.http import call

PROTOBUF = "application/vnd.kubernetes.protobuf"


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def field(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def entry(number: int, key: str, value: bytes | str) -> bytes:
    return field(number, field(1, key) + field(2, value))


def envelope(api_version: str, kind: str, body: bytes) -> bytes:
    """The `k8s\\0` frame client-go writes: runtime.Unknown with the type meta and the object's bytes."""
    return b"k8s\x00" + field(1, field(1, api_version) + field(2, kind)) + field(2, body)


def get(emu: EmulatorThread, path: str) -> dict[str, object]:
    with urllib.request.urlopen(emu.url + path, timeout=10) as response:
        answer = json.load(response)
        assert isinstance(answer, dict)
        return answer


def test_the_version_is_semver_with_build_metadata(emulator: EmulatorThread) -> None:
    version = get(emulator, "/version")
    assert version["gitVersion"] == "v1.32.0+chaos-sandbox"  # not a pre-release: ">=1.28.0" accepts it
    paths = get(emulator, "/")["paths"]
    assert isinstance(paths, list) and "/openapi/v3" in paths and "/openapi/v2" not in paths


def test_secrets_are_served_with_string_data_encoded(emulator: EmulatorThread) -> None:
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}
    status, created, _ = call(emulator, "POST", "/api/v1/namespaces/default/secrets", body)
    assert status == 201 and created["data"] == {"k": base64.b64encode(b"v").decode()}
    assert created["type"] == "Opaque" and "stringData" not in created
    status, listed, _ = call(emulator, "GET", "/api/v1/namespaces/default/secrets?labelSelector=owner%3Dhelm")
    assert status == 200 and listed["items"] == []


def test_a_protobuf_secret_is_read_as_helm_sends_it(emulator: EmulatorThread) -> None:
    meta = field(1, "sh.helm.release.v1.chaos.v1") + entry(11, "owner", "helm") + entry(11, "status", "deployed")
    secret = field(1, meta) + entry(2, "release", b"\x1f\x8b gzip bytes") + field(3, "helm.sh/release.v1")
    status, created, _ = call(emulator, "POST", "/api/v1/namespaces/chaos-system/secrets",
                              envelope("v1", "Secret", secret), PROTOBUF)
    assert status == 201, created
    assert created["metadata"]["labels"] == {"owner": "helm", "status": "deployed"}
    assert created["metadata"]["namespace"] == "chaos-system" and created["type"] == "helm.sh/release.v1"
    assert base64.b64decode(created["data"]["release"]) == b"\x1f\x8b gzip bytes"
    path = "/api/v1/namespaces/chaos-system/secrets/sh.helm.release.v1.chaos.v1"
    for uid, expected in (("not-its-uid", 409), (created["metadata"]["uid"], 200)):  # DeleteOptions' precondition
        options = field(1, 0) + field(2, field(1, uid))
        status, _, _ = call(emulator, "DELETE", path, envelope("meta.k8s.io/v1", "DeleteOptions", options), PROTOBUF)
        assert status == expected


def test_other_protobuf_bodies_get_415(emulator: EmulatorThread) -> None:
    pod = envelope("v1", "Pod", field(1, field(1, "p")))
    status, answer, _ = call(emulator, "POST", "/api/v1/namespaces/default/pods", pod, PROTOBUF)
    assert status == 415 and answer["reason"] == "UnsupportedMediaType" and "Pod" in answer["message"]
    status, answer, _ = call(emulator, "POST", "/api/v1/namespaces/default/pods", b"\xa1", "application/cbor")
    assert status == 415
