"""The ChaosExperiment spec (design §2). The CRD in crds/ is canonical; tests keep the two equal."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from chaos_operator.models.base import ApiModel
from chaos_operator.models.duration import Duration, Percent

# Patterns are mirrored in the CRD; tests/contract checks both sides with the same manifests.
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
HTTP_PATH = r"^/[A-Za-z0-9._~%/=?&+,:@-]*$"
HTTP_URL = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?$"

MAX_RATE = 5000
MAX_CONCURRENCY = 1000
MAX_PHASE_SECONDS = 3600.0
MAX_LOAD_TIMEOUT_SECONDS = 60.0
# PromQL thresholds: finite and bounded (the CRD says the same; YAML's .inf/.nan can never reach the API).
THRESHOLD_LIMIT = 1e18
Threshold = Annotated[float, Field(ge=-THRESHOLD_LIMIT, le=THRESHOLD_LIMIT, allow_inf_nan=False)]

PhaseName = Literal["baseline", "chaos", "recovery"]
Mode = Literal["one", "all", "fixed", "fixedPercent", "randomMaxPercent"]


def _in_range(value: float, low: float, high: float, what: str) -> None:
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low:g}s and {high:g}s")


class SelectorRequirement(ApiModel):
    key: Annotated[str, Field(max_length=317, pattern=LABEL_KEY)]
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    # validate_default: the operator rule must also see an omitted `values`, and name that field.
    values: Annotated[
        list[Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]], Field(max_length=32, validate_default=True)
    ] = []

    @field_validator("values")
    @classmethod
    def _values_match_operator(cls, values: list[str], info: ValidationInfo) -> list[str]:
        operator = info.data.get("operator")  # absent when the operator itself was invalid
        if operator in ("In", "NotIn") and not values:
            raise ValueError(f"operator {operator} needs at least one value")
        if operator in ("Exists", "DoesNotExist") and values:
            raise ValueError(f"operator {operator} takes no values")
        return values


class LabelSelector(ApiModel):
    match_labels: Annotated[dict[str, str], Field(min_length=1, max_length=32)] | None = None
    match_expressions: Annotated[list[SelectorRequirement], Field(min_length=1, max_length=16)] | None = None

    @field_validator("match_labels")
    @classmethod
    def _labels_valid(cls, labels: dict[str, str] | None) -> dict[str, str] | None:
        for key, value in (labels or {}).items():
            if len(key) > 317 or not re.fullmatch(LABEL_KEY, key):
                raise ValueError(f"label key {key!r} is not a valid label key")
            if len(value) > 63 or not re.fullmatch(LABEL_VALUE, value):
                raise ValueError(f"label value {value!r} for key {key!r} is not a valid label value")
        return labels

    @model_validator(mode="after")
    def _not_empty(self) -> LabelSelector:
        # An empty selector matches every pod in the namespace: never what anyone means in chaos.
        if not self.match_labels and not self.match_expressions:
            raise ValueError("selector must have matchLabels or matchExpressions")
        return self


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


class PodKillFault(ApiModel):
    kind: Literal["PodKill"]
    grace_period_seconds: Annotated[int, Field(ge=0, le=300)] = 0
    interval: Duration | None = None

    @field_validator("interval")
    @classmethod
    def _interval_range(cls, value: Duration | None) -> Duration | None:
        if value is not None:
            _in_range(value, 1, MAX_PHASE_SECONDS, "interval")
        return value


# Network and stress fields (mirrored in the CRD). The patterns alone bound the values: the CRD's CEL has no
# string functions to parse them, so every accepted string is also a safe, bounded argv value for the agent.
# A Linux interface name: at most 15 characters, never starting with '-' (it must not read as an option).
INTERFACE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$"
# tc rate notation: 8kbit-999999kbit, 1mbit-99999mbit or 1gbit-99gbit (the agent's own range is 8kbit-100gbit).
RATE = r"^(([89]|[1-9][0-9]{1,5})kbit|[1-9][0-9]{0,4}mbit|[1-9][0-9]?gbit)$"
# Byte sizes of the token bucket and its queue, Kubernetes binary suffixes: 16Ki-9999Ki or 1Mi-99Mi (at least a
# jumbo frame, so a packet is never too big to ever pass).
BUCKET_SIZE = r"^((1[6-9]|[2-9][0-9]|[1-9][0-9]{2,3})Ki|[1-9][0-9]?Mi)$"
# Memory to hold under stress: 1Mi-9999Mi or 1Gi-64Gi.
MEMORY_SIZE = r"^([1-9][0-9]{0,3}Mi|([1-9]|[1-5][0-9]|6[0-4])Gi)$"
MAX_LATENCY_SECONDS = 10.0
MAX_STRESS_WORKERS = 32

Workers = Annotated[int, Field(ge=1, le=MAX_STRESS_WORKERS)]
Interface = Annotated[str | None, Field(max_length=15, pattern=INTERFACE)]


class NetworkLatencyFault(ApiModel):
    kind: Literal["NetworkLatency"]
    latency: Duration
    jitter: Duration = Duration(0.0)
    correlation: Annotated[int, Field(ge=0, le=100)] = 0
    interface: Interface = None

    @field_validator("latency")
    @classmethod
    def _latency_range(cls, value: Duration) -> Duration:
        _in_range(value, 0.001, MAX_LATENCY_SECONDS, "latency")
        return value

    @field_validator("jitter")
    @classmethod
    def _jitter_range(cls, value: Duration, info: ValidationInfo) -> Duration:
        _in_range(value, 0, MAX_LATENCY_SECONDS, "jitter")
        latency = info.data.get("latency")  # absent when latency itself was invalid
        if latency is not None and value > latency:
            raise ValueError("jitter must not exceed latency")
        return value


class NetworkBandwidthFault(ApiModel):
    kind: Literal["NetworkBandwidth"]
    rate: Annotated[str, Field(max_length=16, pattern=RATE)]
    # Omitted: the agent sizes the bucket to ~10 ms of traffic at the rate (at least 16Ki) and the queue to ~100 ms.
    burst: Annotated[str | None, Field(max_length=8, pattern=BUCKET_SIZE)] = None
    limit: Annotated[str | None, Field(max_length=8, pattern=BUCKET_SIZE)] = None
    interface: Interface = None


class CPUStressFault(ApiModel):
    kind: Literal["CPUStress"]
    workers: Workers = 1
    load: Annotated[int, Field(ge=1, le=100)] = 100


class MemoryStressFault(ApiModel):
    kind: Literal["MemoryStress"]
    workers: Workers = 1
    size: Annotated[str, Field(max_length=8, pattern=MEMORY_SIZE)]


# One member per fault kind, discriminated by `kind`; adding a fault adds a member here and in FAULT_KINDS.
Fault = Annotated[
    PodKillFault | NetworkLatencyFault | NetworkBandwidthFault | CPUStressFault | MemoryStressFault,
    Field(discriminator="kind"),
]
FAULT_KINDS: tuple[str, ...] = ("PodKill", "NetworkLatency", "NetworkBandwidth", "CPUStress", "MemoryStress")


class ServiceRef(ApiModel):
    name: Annotated[str, Field(max_length=63, pattern=DNS_LABEL)]
    port: Annotated[int, Field(ge=1, le=65535)]


class Load(ApiModel):
    service: ServiceRef
    path: Annotated[str, Field(max_length=1024, pattern=HTTP_PATH)] = "/"
    method: Literal["GET", "HEAD"] = "GET"
    rate: Annotated[int, Field(ge=1, le=MAX_RATE)] = 50
    concurrency: Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)] = 32
    timeout: Duration = Duration(2.0)

    @field_validator("timeout")
    @classmethod
    def _timeout_range(cls, value: Duration) -> Duration:
        _in_range(value, 0.001, MAX_LOAD_TIMEOUT_SECONDS, "timeout")
        return value


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
