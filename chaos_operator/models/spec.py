"""The ChaosExperiment spec. The CRD in crds/ is canonical; tests keep the two equal."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, ValidationInfo, field_validator, model_validator

from chaos_operator.models.base import ApiModel
from chaos_operator.models.duration import Duration, Percent
from chaos_operator.models.faults import (
    BUCKET_SIZE,
    INTERFACE,
    MEMORY_SIZE,
    RATE,
    CPUStressFault,
    MemoryStressFault,
    NetworkBandwidthFault,
    NetworkCorruptionFault,
    NetworkDuplicationFault,
    NetworkLatencyFault,
    NetworkLossFault,
    NetworkPartitionFault,
    PodKillFault,
)
from chaos_operator.models.selector import (
    DNS_LABEL,
    HTTP_PATH,
    HTTP_URL,
    LABEL_KEY,
    LABEL_VALUE,
    LabelSelector,
    SelectorRequirement,
)
from chaos_operator.models.selector import in_range as _in_range

__all__ = ["BUCKET_SIZE", "DNS_LABEL", "FAULT_KINDS", "INTERFACE", "LABEL_KEY", "LABEL_VALUE", "MEMORY_SIZE", "RATE",
           "CPUStressFault", "ExperimentSpec", "Fault", "LabelSelector", "MemoryStressFault", "NetworkBandwidthFault",
           "NetworkCorruptionFault", "NetworkDuplicationFault", "NetworkLatencyFault", "NetworkLossFault",
           "NetworkPartitionFault", "PodKillFault", "SelectorRequirement"]

MAX_RATE = 5000
MAX_CONCURRENCY = 1000
MAX_PHASE_SECONDS = 3600.0
MAX_LOAD_TIMEOUT_SECONDS = 60.0
MAX_LOAD_WORKERS = 64
MAX_INLINE_BODY = 65536  # larger bodies come from a ConfigMap key (bodyFrom)
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
CONFIG_KEY = r"^[-._a-zA-Z0-9]+$"  # a ConfigMap or Secret key
HEADER_NAME = r"^[A-Za-z0-9-]{1,128}$"
# Set by the load from its own settings (auth, the body, the connection): a header of the spec never replaces them.
RESERVED_HEADERS = frozenset({"authorization", "host", "content-length", "transfer-encoding", "connection"})
# PromQL thresholds: finite and bounded (the CRD says the same; YAML's .inf/.nan can never reach the API).
THRESHOLD_LIMIT = 1e18
Threshold = Annotated[float, Field(ge=-THRESHOLD_LIMIT, le=THRESHOLD_LIMIT, allow_inf_nan=False)]

PhaseName = Literal["baseline", "chaos", "recovery"]
Mode = Literal["one", "all", "fixed", "fixedPercent", "randomMaxPercent"]


class Target(ApiModel):
    selector: LabelSelector
    mode: Mode = "one"
    # validate_default: a missing value is an error for some modes, reported on `value` itself.
    value: Annotated[int, Field(ge=1, le=1000)] | None = Field(default=None, validate_default=True)
    seed: Annotated[int, Field(ge=0, le=2**53 - 1)] | None = None

    @field_validator("value")
    @classmethod
    def _value_matches_mode(cls, value: int | None, info: ValidationInfo) -> int | None:
        mode = info.data.get("mode")  # absent when the mode itself was invalid
        if mode in ("one", "all") and value is not None:
            raise ValueError(f"value is not used with mode {mode}")
        if mode not in (None, "one", "all") and value is None:
            raise ValueError(f"mode {mode} needs a value")
        if mode in ("fixedPercent", "randomMaxPercent") and value is not None and value > 100:
            raise ValueError("value is a percentage for this mode and must be at most 100")
        return value


# One member per fault kind, discriminated by `kind`; adding a fault adds a member here.
Fault = Annotated[
    PodKillFault | NetworkLatencyFault | NetworkBandwidthFault | CPUStressFault | MemoryStressFault
    | NetworkLossFault | NetworkCorruptionFault | NetworkDuplicationFault | NetworkPartitionFault,
    Field(discriminator="kind"),
]
# Read from the union, in its order (the CRD's enum order: a test keeps them equal), so kinds are listed once here.
FAULT_KINDS: tuple[str, ...] = tuple(get_args(member.model_fields["kind"].annotation)[0]
                                     for member in get_args(get_args(Fault)[0]))


class ServiceRef(ApiModel):
    name: Annotated[str, Field(max_length=63, pattern=DNS_LABEL)]
    port: Annotated[int, Field(ge=1, le=65535)]


class KeyRef(ApiModel):
    """One key of a ConfigMap or Secret in the experiment's namespace, mounted into the load workers' pods."""

    name: Annotated[str, Field(max_length=253, pattern=DNS_SUBDOMAIN)]
    key: Annotated[str, Field(max_length=253, pattern=CONFIG_KEY)]


class BasicAuthRef(ApiModel):
    secret_name: Annotated[str, Field(max_length=253, pattern=DNS_SUBDOMAIN)]
    username_key: Annotated[str, Field(max_length=253, pattern=CONFIG_KEY)] = "username"
    password_key: Annotated[str, Field(max_length=253, pattern=CONFIG_KEY)] = "password"


class LoadAuth(ApiModel):
    """Read by the load worker from its mounted Secret; the operator never reads Secrets."""

    bearer_token: KeyRef | None = None
    basic: BasicAuthRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> LoadAuth:
        if (self.bearer_token is None) == (self.basic is None):
            raise ValueError("auth needs exactly one of bearerToken and basic")
        return self


class LoadTls(ApiModel):
    """HTTPS to the Service: verified against this CA bundle (a ConfigMap key), or the system's when absent."""

    ca_bundle: KeyRef | None = None
    server_name: Annotated[str, Field(max_length=253, pattern=DNS_SUBDOMAIN)] | None = None


class Load(ApiModel):
    service: ServiceRef
    path: Annotated[str, Field(max_length=1024, pattern=HTTP_PATH)] = "/"
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    rate: Annotated[int, Field(ge=1, le=MAX_RATE)] = 50
    concurrency: Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)] = 32
    timeout: Duration = Duration(2.0)
    headers: Annotated[dict[Annotated[str, Field(pattern=HEADER_NAME)], Annotated[str, Field(max_length=4096)]],
                       Field(max_length=32)] | None = None
    body: Annotated[str, Field(max_length=MAX_INLINE_BODY)] | None = None
    body_from: KeyRef | None = None  # a ConfigMap key
    auth: LoadAuth | None = None
    tls: LoadTls | None = None
    success_codes: Annotated[list[Annotated[int, Field(ge=100, le=599)]], Field(min_length=1, max_length=100)] \
        | None = None
    workers: Annotated[int, Field(ge=1, le=MAX_LOAD_WORKERS)] = 1

    @field_validator("timeout")
    @classmethod
    def _timeout_range(cls, value: Duration) -> Duration:
        _in_range(value, 0.001, MAX_LOAD_TIMEOUT_SECONDS, "timeout")
        return value

    @field_validator("headers")
    @classmethod
    def _headers_not_reserved(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name in value or {}:
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name} is set by the load itself (use auth for credentials)")
        return value

    @model_validator(mode="after")
    def _body_rules(self) -> Load:
        if self.body is not None and self.body_from is not None:
            raise ValueError("give body or bodyFrom, not both")
        if self.method in ("GET", "HEAD") and (self.body is not None or self.body_from is not None):
            raise ValueError(f"a {self.method} request sends no body")
        return self


class Phases(ApiModel):
    baseline: Duration = Duration(60.0)
    chaos: Duration = Duration(120.0)
    recovery: Duration = Duration(60.0)

    @field_validator("baseline", "chaos", "recovery")
    @classmethod
    def _phase_range(cls, value: Duration) -> Duration:
        _in_range(value, 1, MAX_PHASE_SECONDS, "a phase")
        return value


class Slos(ApiModel):
    max_error_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    max_latency_p95: Duration | None = None
    max_latency_p99: Duration | None = None
    max_latency_degradation: Percent | None = None
    recovery_within: Duration | None = None

    @field_validator("max_latency_p95", "max_latency_p99", "recovery_within")
    @classmethod
    def _latency_range(cls, value: Duration | None) -> Duration | None:
        if value is not None:
            _in_range(value, 0.001, MAX_PHASE_SECONDS, "a latency or recovery limit")
        return value

    @field_validator("max_latency_degradation")
    @classmethod
    def _degradation_range(cls, value: Percent | None) -> Percent | None:
        if value is not None and not 0 <= value <= 10000:
            raise ValueError("maxLatencyDegradation must be between 0% and 10000%")
        return value


class PromQuery(ApiModel):
    name: Annotated[str, Field(max_length=63, pattern=DNS_LABEL)]
    query: Annotated[str, Field(min_length=1, max_length=4096)]
    max: Threshold | None = None
    min: Threshold | None = None
    phases: Annotated[list[PhaseName], Field(min_length=1, max_length=3)] = ["chaos"]

    @model_validator(mode="after")
    def _has_bound(self) -> PromQuery:
        if self.max is None and self.min is None:
            raise ValueError("a query needs max or min")
        return self


class HaltCondition(ApiModel):
    name: Annotated[str, Field(max_length=63, pattern=DNS_LABEL)]
    query: Annotated[str, Field(min_length=1, max_length=4096)]
    max: Threshold
    # No series is no evidence that the service is safe: by default it halts like a breach.
    on_missing: Literal["halt", "ignore"] = "halt"


class Prometheus(ApiModel):
    url: Annotated[str, Field(max_length=2048, pattern=HTTP_URL)]
    queries: Annotated[list[PromQuery], Field(max_length=16)] = []
    halt_when: Annotated[list[HaltCondition], Field(max_length=8)] = []


class ExperimentSpec(ApiModel):
    target: Target
    fault: Fault
    load: Load
    phases: Phases = Phases()
    slos: Slos = Slos()
    prometheus: Prometheus | None = None
    abort: bool = False
    dry_run: bool = False
