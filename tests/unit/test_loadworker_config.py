"""The load worker's config file and env, and which spec.load fields only workers can send (pure, table-driven)."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from pydantic import ValidationError

from chaos_operator.adapters.load import needs_workers
from chaos_operator.loadworker.config import DEFAULT_SUCCESS, WorkerConfig, load_settings
from chaos_operator.models.spec import ExperimentSpec, Load
from tests.support.manifests import base_manifest

BASE: dict[str, Any] = {"url": "http://checkout.shop.svc:8080/health", "rate": 50, "durationSeconds": 10,
                        "stateTokenFile": "/t"}


@pytest.mark.parametrize(("change", "message"), [
    ({"method": "GET", "body": "x"}, "GET sends no body"),
    ({"method": "POST", "body": "x", "bodyFile": "/b"}, "not both"),
    ({"bearerTokenFile": "/a", "basicAuth": {"usernameFile": "/u", "passwordFile": "/p"}}, "not both"),
    ({"serverName": "a.b"}, "needs an https URL"),
    ({"caFile": "/ca"}, "needs an https URL"),
    ({"headers": {"Authorization": "Bearer x"}}, "set by the worker"),
    ({"method": "CONNECT"}, "method"),
    ({"rate": 0}, "rate"),
    ({"url": "ftp://x/"}, "url"),
    ({"successCodes": [99]}, "successCodes"),
    ({"extra": 1}, "extra"),
])
def test_the_config_refuses(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        WorkerConfig.model_validate({**BASE, **change})


def _write(tmp_path: pathlib.Path, **fields: Any) -> str:
    (tmp_path / "token").write_text("state-token\n")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**BASE, "stateTokenFile": str(tmp_path / "token"), **fields}))
    return str(path)


def test_settings_read_the_files_and_the_jobs_env(tmp_path: pathlib.Path) -> None:
    (tmp_path / "bearer").write_text("abc\n")
    (tmp_path / "body").write_bytes(b'{"a": 1}')
    config = _write(tmp_path, method="PATCH", bodyFile=str(tmp_path / "body"), bearerTokenFile=str(tmp_path / "bearer"),
                    headers={"X-A": "1"})
    settings = load_settings(config, {"JOB_COMPLETION_INDEX": "2", "LOAD_WORKERS": "3"})
    assert (settings.index, settings.workers, settings.state_token) == (2, 3, "state-token")
    assert settings.headers == {"X-A": "1", "Authorization": "Bearer abc"}
    assert settings.body == b'{"a": 1}'
    assert settings.success == frozenset(DEFAULT_SUCCESS)
    defaults = load_settings(_write(tmp_path), {})
    assert (defaults.index, defaults.workers, defaults.body) == (0, 1, None)


@pytest.mark.parametrize(("env", "message"), [
    ({"JOB_COMPLETION_INDEX": "3", "LOAD_WORKERS": "3"}, "not below"),
    ({"LOAD_WORKERS": "0"}, "within 1..64"),
    ({"JOB_COMPLETION_INDEX": "-1"}, "non-negative integer"),
])
def test_settings_refuse_an_env_that_cannot_be_a_share(tmp_path: pathlib.Path, env: dict[str, str],
                                                       message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(_write(tmp_path), env)


def test_a_token_file_of_two_lines_is_refused(tmp_path: pathlib.Path) -> None:
    (tmp_path / "bearer").write_text("abc\ndef\n")
    with pytest.raises(ValueError, match="one non-empty line"):
        load_settings(_write(tmp_path, bearerTokenFile=str(tmp_path / "bearer")), {})


SERVICE = {"service": {"name": "orders", "port": 80}}


@pytest.mark.parametrize(("load", "needs"), [
    ({}, []),
    ({"method": "HEAD", "successCodes": [200, 404]}, []),  # the in-operator generator honours these
    ({"method": "POST"}, ["method POST"]),
    ({"method": "DELETE", "headers": {"X-A": "1"}, "body": "x"}, ["method DELETE", "headers", "body"]),
    ({"auth": {"basic": {"secretName": "s"}}, "tls": {}}, ["auth", "tls"]),
    ({"workers": 2}, ["workers 2"]),
])
def test_fields_only_workers_can_send_are_named(load: dict[str, Any], needs: list[str]) -> None:
    doc = base_manifest()["spec"]
    doc["load"] = {**SERVICE, **load}
    assert needs_workers(ExperimentSpec.model_validate(doc)) == needs


def test_load_defaults_are_todays_behaviour() -> None:
    load = Load.model_validate(SERVICE)
    assert (load.method, load.headers, load.body, load.auth, load.tls, load.success_codes, load.workers) == (
        "GET", None, None, None, None, None, 1)
