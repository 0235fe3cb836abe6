"""What a load worker is told: a JSON file (the mounted ConfigMap) validated here, plus its Job's env.

Secrets never pass through the operator: the config names files (mounted Secret and ConfigMap keys) and the
worker reads them itself, once, at start. A relative path is relative to the config file's directory (the Job
mounts every volume beside the config's, so the config holds no absolute mount path).
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from chaos_operator.models.base import ApiModel
from chaos_operator.models.spec import MAX_CONCURRENCY, MAX_LOAD_TIMEOUT_SECONDS, MAX_PHASE_SECONDS

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
MAX_WORKERS = 64
MAX_WORKER_RATE = 100_000
MAX_BODY_BYTES = 1024 * 1024  # a request body is held in memory once and sent by every request
MAX_RUN_SECONDS = 4 * MAX_PHASE_SECONDS  # baseline + chaos + recovery, and slack
# 2xx, and 304 (redirects are never followed, so any other 3xx did not reach the answer): the generator's default.
DEFAULT_SUCCESS = tuple(range(200, 300)) + (304,)
_HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$"
_URL = r"^https?://[^/?#\s]+(/[^\s#]*)?$"
# Set by the worker itself from files or the method: a header of the config may not replace them.
_RESERVED_HEADERS = frozenset({"authorization", "host", "content-length", "transfer-encoding", "connection"})
INDEX_ENV = "JOB_COMPLETION_INDEX"  # set by Kubernetes in every pod of an indexed Job
WORKERS_ENV = "LOAD_WORKERS"  # set by the Job builder: completions = parallelism = this
LISTEN_ENV = "POD_IP"  # set by the Job builder from status.podIP: the worker listens there only


class BasicAuth(ApiModel):
    username_file: Annotated[str, Field(min_length=1, max_length=4096)]
    password_file: Annotated[str, Field(min_length=1, max_length=4096)]


class WorkerConfig(ApiModel):
    url: Annotated[str, Field(max_length=2048, pattern=_URL)]
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: Annotated[dict[Annotated[str, Field(pattern=_HEADER_NAME)], Annotated[str, Field(max_length=8192)]],
                       Field(max_length=64)] = {}
    body: Annotated[str, Field(max_length=MAX_BODY_BYTES)] | None = None
    body_file: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    bearer_token_file: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    basic_auth: BasicAuth | None = None
    ca_file: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    server_name: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    success_codes: Annotated[list[Annotated[int, Field(ge=100, le=599)]], Field(min_length=1, max_length=500)] | None \
        = None
    # All workers together, req/s. The spec caps an experiment at MAX_RATE; this bound is the worker's own (its
    # machinery, not the operator's), high enough that benchmarks/loadgen.py can saturate one worker.
    rate: Annotated[float, Field(gt=0, le=MAX_WORKER_RATE, allow_inf_nan=False)]
    concurrency: Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)] = 32  # per worker
    timeout_seconds: Annotated[float, Field(gt=0, le=MAX_LOAD_TIMEOUT_SECONDS, allow_inf_nan=False)] = 2.0
    duration_seconds: Annotated[float, Field(gt=0, le=MAX_RUN_SECONDS, allow_inf_nan=False)]
    # Unix seconds; usually absent: the operator POSTs it once every worker is Ready.
    start_at: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    state_token_file: Annotated[str, Field(min_length=1, max_length=4096)]
    # A pod listens on its own IP (the operator reaches it there); /state and /start need the bearer token.
    listen_host: str = "0.0.0.0"  # nosec B104
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # How long the finished state stays served for the operator to pull, unless SIGTERM ends it first.
    linger_seconds: Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)] = 300.0

    @model_validator(mode="after")
    def _one_of_each(self) -> WorkerConfig:
        if self.body is not None and self.body_file is not None:
            raise ValueError("give body or bodyFile, not both")
        if self.bearer_token_file is not None and self.basic_auth is not None:
            raise ValueError("give bearerTokenFile or basicAuth, not both")
        if self.method in ("GET", "HEAD") and (self.body is not None or self.body_file is not None):
            raise ValueError(f"{self.method} sends no body")
        if self.server_name is not None and not self.url.startswith("https://"):
            raise ValueError("serverName needs an https URL")
        if self.ca_file is not None and not self.url.startswith("https://"):
            raise ValueError("caFile needs an https URL")
        for name in self.headers:
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"header {name} is set by the worker itself")
        return self


@dataclass(frozen=True)
class Settings:
    """The config with its files read and the Job's env applied: everything a run needs, in memory."""

    config: WorkerConfig
    index: int
    workers: int
    headers: dict[str, str]
    body: bytes | None
    state_token: str
    success: frozenset[int]


def _read(path: str, what: str, limit: int = MAX_BODY_BYTES) -> bytes:
    data = Path(path).read_bytes()
    if len(data) > limit:
        raise ValueError(f"{what} {path} is larger than {limit} bytes")
    return data


def _secret(path: str, what: str) -> str:
    # A mounted Secret key often ends with a newline that is not part of the value.
    value = _read(path, what, 16 * 1024).decode("utf-8").strip()
    if not value or re.search(r"[\r\n]", value):
        raise ValueError(f"{what} {path} must hold one non-empty line")
    return value


def _env_int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ValueError(f"${name} must be a non-negative integer, got {raw!r}")
    return int(raw)


def _beside(config: WorkerConfig, directory: str) -> WorkerConfig:
    """The config with each relative file path made relative to ``directory`` (the config file's)."""
    def at(path: str | None) -> str | None:
        return None if path is None else os.path.normpath(os.path.join(directory, path))
    basic = config.basic_auth
    if basic is not None:
        basic = basic.model_copy(update={"username_file": at(basic.username_file),
                                         "password_file": at(basic.password_file)})
    return config.model_copy(update={
        "body_file": at(config.body_file), "bearer_token_file": at(config.bearer_token_file), "basic_auth": basic,
        "ca_file": at(config.ca_file), "state_token_file": at(config.state_token_file)})


def load_settings(config_path: str, env: dict[str, str] | None = None) -> Settings:
    """Validate the config file, read the files it names, take the index and worker count from ``env``."""
    env = dict(os.environ) if env is None else env
    config = WorkerConfig.model_validate_json(Path(config_path).read_bytes())
    config = _beside(config, os.path.dirname(os.path.abspath(config_path)))
    workers = _env_int(env, WORKERS_ENV, 1)
    index = _env_int(env, INDEX_ENV, 0)
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"${WORKERS_ENV} must be within 1..{MAX_WORKERS}, got {workers}")
    if index >= workers:
        raise ValueError(f"${INDEX_ENV} {index} is not below ${WORKERS_ENV} {workers}")
    headers = dict(config.headers)
    if config.bearer_token_file is not None:
        headers["Authorization"] = "Bearer " + _secret(config.bearer_token_file, "bearerTokenFile")
    elif config.basic_auth is not None:
        user = _secret(config.basic_auth.username_file, "usernameFile")
        password = _secret(config.basic_auth.password_file, "passwordFile")
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    body = config.body.encode() if config.body is not None else None
    if config.body_file is not None:
        body = _read(config.body_file, "bodyFile")
    if env.get(LISTEN_ENV):
        config = config.model_copy(update={"listen_host": env[LISTEN_ENV]})
    success = frozenset(config.success_codes) if config.success_codes is not None else frozenset(DEFAULT_SUCCESS)
    return Settings(config=config, index=index, workers=workers, headers=headers, body=body,
                    state_token=_secret(config.state_token_file, "stateTokenFile"), success=success)
