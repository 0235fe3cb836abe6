"""The fault kinds of the spec, one model each (the CRD's fault branch mirrors them field by field)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from chaos_operator.models.base import ApiModel
from chaos_operator.models.duration import Duration
from chaos_operator.models.selector import DNS_LABEL, LabelSelector
from chaos_operator.models.selector import in_range as _in_range

MAX_PHASE_SECONDS = 3600.0


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

# An IPv4 address or CIDR (a bare address means /32). Host bits are ignored: 10.1.2.3/8 scopes 10.0.0.0/8.
OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
CIDR = rf"^({OCTET}\.){{3}}{OCTET}(/(3[0-2]|[12]?[0-9]))?$"
MAX_DESTINATIONS = 16
MAX_PORTS = 16

Workers = Annotated[int, Field(ge=1, le=MAX_STRESS_WORKERS)]
Interface = Annotated[str | None, Field(max_length=15, pattern=INTERFACE)]
Percentage = Annotated[float, Field(ge=0.01, le=100, allow_inf_nan=False)]  # rounded to 0.01 for tc


class Destination(ApiModel):
    """One peer of a scoped network fault: a CIDR, or pods of the experiment's namespace resolved when the fault
    is applied (a Service: its ClusterIP and its selected pods' IPs; a selector: the matching pods' IPs)."""

    cidr: Annotated[str, Field(max_length=18, pattern=CIDR)] | None = None
    service: Annotated[str, Field(max_length=63, pattern=DNS_LABEL)] | None = None
    selector: LabelSelector | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Destination:
        if sum(value is not None for value in (self.cidr, self.service, self.selector)) != 1:
            raise ValueError("a destination is exactly one of cidr, service or selector")
        return self


class NetworkScope(ApiModel):
    """What every network fault shares: the device, and which traffic the fault applies to."""

    interface: Interface = None
    destinations: Annotated[list[Destination], Field(min_length=1, max_length=MAX_DESTINATIONS)] | None = None
    ports: Annotated[list[Annotated[int, Field(ge=1, le=65535)]],
                     Field(min_length=1, max_length=MAX_PORTS)] | None = None
    direction: Literal["egress", "ingress", "both"] = "egress"


class NetworkLatencyFault(NetworkScope):
    kind: Literal["NetworkLatency"]
    latency: Duration
    jitter: Duration = Duration(0.0)
    correlation: Annotated[int, Field(ge=0, le=100)] = 0

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


class NetworkBandwidthFault(NetworkScope):
    kind: Literal["NetworkBandwidth"]
    rate: Annotated[str, Field(max_length=16, pattern=RATE)]
    # Omitted: the agent sizes the bucket to ~10 ms of traffic at the rate (at least 16Ki) and the queue to ~100 ms.
    burst: Annotated[str | None, Field(max_length=8, pattern=BUCKET_SIZE)] = None
    limit: Annotated[str | None, Field(max_length=8, pattern=BUCKET_SIZE)] = None


class NetworkLossFault(NetworkScope):
    kind: Literal["NetworkLoss"]
    percent: Percentage
    correlation: Annotated[int, Field(ge=0, le=100)] = 0  # how much a packet's fate follows the previous one's


class NetworkCorruptionFault(NetworkScope):
    kind: Literal["NetworkCorruption"]
    percent: Percentage


class NetworkDuplicationFault(NetworkScope):
    kind: Literal["NetworkDuplication"]
    percent: Percentage


class NetworkPartitionFault(NetworkScope):
    """Every packet to the destinations (with direction both, also from them) is dropped; other traffic flows."""

    kind: Literal["NetworkPartition"]
    destinations: Annotated[list[Destination], Field(min_length=1, max_length=MAX_DESTINATIONS)]


class CPUStressFault(ApiModel):
    kind: Literal["CPUStress"]
    workers: Workers = 1
    load: Annotated[int, Field(ge=1, le=100)] = 100


class MemoryStressFault(ApiModel):
    kind: Literal["MemoryStress"]
    workers: Workers = 1
    size: Annotated[str, Field(max_length=8, pattern=MEMORY_SIZE)]
