"""Pure `tc`/`ip` argv builders and output parsers for the network faults (one root qdisc of ours).

Every input is validated against a strict pattern or range *before* an argv is built, so no
argv element can carry shell metacharacters, whitespace or option-looking values. Nothing here
runs a command.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum

from chaos_operator.models.duration import parse_duration

# Our root qdisc handle. Any other non-zero root handle belongs to someone else.
OUR_MAJOR = 0xC4A0
OUR_HANDLE = f"{OUR_MAJOR:x}:"

INTERFACE_RE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}$")
PROC_ROOT_RE = re.compile(r"^/[A-Za-z0-9_./-]{0,200}$")
TC_TIME_RE = re.compile(r"^[0-9]{1,8}(us|ms)$")
RATE_RE = re.compile(r"^([1-9][0-9]{0,5})(kbit|mbit|gbit)$")
PERCENT_RE = re.compile(r"^([0-9]{1,3}(\.[0-9]{1,2})?)%?$")
MAX_PID = 4194304  # the kernel's PID_MAX_LIMIT on 64-bit
MAX_DELAY_US = 60_000_000
RATE_UNITS = {"kbit": 1_000, "mbit": 1_000_000, "gbit": 1_000_000_000}
MIN_RATE_BPS, MAX_RATE_BPS = 8_000, 100_000_000_000
MIN_BURST_BYTES = 16384  # above a jumbo frame, so tbf never drops a whole packet for size
MAX_BUCKET_BYTES = 1 << 30
NETEM_LIMIT_PACKETS = 10000  # netem's default 1000 would add loss at high rate x delay


@dataclass(frozen=True)
class Netem:
    """One netem qdisc: a delay, and/or loss, corruption or duplication (already formatted, e.g. "25%")."""

    latency_us: int = 0
    jitter_us: int = 0
    correlation: str | None = None  # of the jitter
    loss: str | None = None
    loss_correlation: str | None = None
    corrupt: str | None = None
    duplicate: str | None = None

    kind = "netem"

    def args(self) -> list[str]:
        out = ["netem"]
        if self.latency_us:
            out += ["delay", tc_time(self.latency_us)]
            if self.jitter_us:
                out.append(tc_time(self.jitter_us))
                if self.correlation is not None:
                    out.append(self.correlation)
        if self.loss is not None:
            out += ["loss", self.loss] + ([self.loss_correlation] if self.loss_correlation is not None else [])
        if self.corrupt is not None:
            out += ["corrupt", self.corrupt]
        if self.duplicate is not None:
            out += ["duplicate", self.duplicate]
        return out + ["limit", str(NETEM_LIMIT_PACKETS)]


@dataclass(frozen=True)
class Tbf:
    rate: str  # as given, e.g. "2mbit"
    burst_bytes: int
    limit_bytes: int

    kind = "tbf"

    def args(self) -> list[str]:
        return ["tbf", "rate", self.rate, "burst", str(self.burst_bytes), "limit", str(self.limit_bytes)]


@dataclass(frozen=True)
class Blackhole:
    """Drops every packet it is given: the partition's leaf, under the class the scope's filters choose."""

    kind = "blackhole"

    def args(self) -> list[str]:
        return ["blackhole"]


Qdisc = Netem | Tbf | Blackhole


def tc_time(microseconds: int) -> str:
    if not 0 < microseconds <= MAX_DELAY_US:
        raise ValueError(f"time {microseconds}us out of range")
    text = f"{microseconds // 1000}ms" if microseconds % 1000 == 0 else f"{microseconds}us"
    if not TC_TIME_RE.fullmatch(text):
        raise ValueError(f"bad tc time {text!r}")
    return text


def _delay_us(text: str, what: str) -> int:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a duration string")
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a duration like 100ms or 1.5s") from None
    micro = round(seconds * 1_000_000)
    if not 0 < micro <= MAX_DELAY_US:
        raise ValueError(f"{what} must be between 1us and 60s, got {text!r}")
    return micro


def netem(latency: str, jitter: str | None = None, correlation: str | None = None) -> Netem:
    latency_us = _delay_us(latency, "latency")
    jitter_us = _delay_us(jitter, "jitter") if jitter is not None else 0
    corr = None
    if correlation is not None:
        if jitter is None:
            raise ValueError("correlation needs a jitter")
        corr = f"{percent(correlation, 'correlation'):g}%"
    return Netem(latency_us, jitter_us, corr)


def _share(text: str, what: str, low: float = 0.0) -> str:
    value = percent(text, what)
    if value <= low:
        raise ValueError(f"{what} must be more than {low:g}%, got {text!r}")
    return f"{value:g}%"


def loss(value: str, correlation: str | None = None) -> Netem:
    return Netem(loss=_share(value, "loss"),
                 loss_correlation=f"{percent(correlation, 'correlation'):g}%" if correlation is not None else None)


def corrupt(value: str) -> Netem:
    return Netem(corrupt=_share(value, "corruption"))


def duplicate(value: str) -> Netem:
    return Netem(duplicate=_share(value, "duplication"))


def percent(text: str, what: str) -> float:
    match = PERCENT_RE.fullmatch(text) if isinstance(text, str) else None
    if not match or not 0 <= float(match.group(1)) <= 100:
        raise ValueError(f"{what} must be a number from 0 to 100, got {text!r}")
    return float(match.group(1))


def rate_bps(rate: str) -> int:
    match = RATE_RE.fullmatch(rate) if isinstance(rate, str) else None
    if not match:
        raise ValueError(f"rate {rate!r} is not like 512kbit, 2mbit or 1gbit")
    bps = int(match.group(1)) * RATE_UNITS[match.group(2)]
    if not MIN_RATE_BPS <= bps <= MAX_RATE_BPS:
        raise ValueError(f"rate {rate!r} must be between 8kbit and 100gbit")
    return bps


def size_bytes(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_BURST_BYTES <= value <= MAX_BUCKET_BYTES:
        raise ValueError(f"{what} must be {MIN_BURST_BYTES}-{MAX_BUCKET_BYTES} bytes, got {value!r}")
    return value


def tbf(rate: str, burst: int | None = None, limit: int | None = None) -> Tbf:
    """Defaults: a bucket of ~10 ms of traffic, a queue of ~100 ms and at least two buckets."""
    bytes_per_s = rate_bps(rate) // 8
    bucket = size_bytes(burst, "burst") if burst is not None else max(MIN_BURST_BYTES, bytes_per_s // 100)
    queue = size_bytes(limit, "limit") if limit is not None else max(2 * bucket, bytes_per_s // 10)
    return Tbf(rate, bucket, queue)


def interface(name: str) -> str:
    if not isinstance(name, str) or not INTERFACE_RE.fullmatch(name) or name in {".", ".."}:
        raise ValueError(f"interface name {name!r} is not a valid Linux interface name")
    return name


def proc_root(path: str) -> str:
    if not isinstance(path, str) or not PROC_ROOT_RE.fullmatch(path) or ".." in path.split("/"):
        raise ValueError(f"proc root {path!r} must be an absolute plain path")
    return path.rstrip("/") or "/"


def pid(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PID:
        raise ValueError(f"pid {value!r} out of range")
    return value


def in_netns(target_pid: int, root: str = "/proc") -> list[str]:
    """The prefix that runs a host binary inside the target's network namespace only."""
    return ["nsenter", f"--net={proc_root(root)}/{pid(target_pid)}/ns/net"]


def replace_argv(target_pid: int, device: str, qdisc: Qdisc, root: str = "/proc") -> list[str]:
    head = in_netns(target_pid, root) + ["tc", "qdisc", "replace", "dev", interface(device)]
    return head + ["root", "handle", OUR_HANDLE] + qdisc.args()


def delete_argv(target_pid: int, device: str, root: str = "/proc") -> list[str]:
    return in_netns(target_pid, root) + ["tc", "qdisc", "del", "dev", interface(device), "root", "handle", OUR_HANDLE]


def show_argv(target_pid: int, device: str, root: str = "/proc") -> list[str]:
    return in_netns(target_pid, root) + ["tc", "-j", "qdisc", "show", "dev", interface(device)]


def default_route_argv(target_pid: int, root: str = "/proc", family: int = 4) -> list[str]:
    if family not in (4, 6):
        raise ValueError("family must be 4 or 6")
    return in_netns(target_pid, root) + ["ip", f"-{family}", "-j", "route", "show", "default"]


class RootKind(Enum):
    DEFAULT = "default"  # handle 0: (kernel default) or nothing at all
    OURS = "ours"
    FOREIGN = "foreign"


@dataclass(frozen=True)
class RootQdisc:
    state: RootKind
    kind: str | None = None
    handle: str | None = None


def _classify(kind: str, handle: str) -> RootQdisc:
    handle = handle if handle.endswith(":") else handle + ":"
    try:
        major = int(handle[:-1] or "0", 16)
    except ValueError:
        return RootQdisc(RootKind.FOREIGN, kind, handle)  # unreadable: assume someone else's
    if major == 0:
        return RootQdisc(RootKind.DEFAULT, kind, handle)
    return RootQdisc(RootKind.OURS if major == OUR_MAJOR else RootKind.FOREIGN, kind, handle)


def parse_qdisc_show(output: str) -> RootQdisc:
    """Classify the root qdisc in `tc [-j] qdisc show dev X` output (JSON or text)."""
    text = output.strip()
    if text.startswith("["):
        for item in json.loads(text):
            if isinstance(item, dict) and item.get("root") is True:
                return _classify(str(item.get("kind", "")), str(item.get("handle", "0:")))
        return RootQdisc(RootKind.DEFAULT)
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "qdisc" and "root" in words:
            return _classify(words[1], words[2])
    return RootQdisc(RootKind.DEFAULT)


def parse_default_route(output: str) -> str | None:
    """The device of the first default route in `ip [-j] route show default`, validated."""
    text = output.strip()
    devices: list[str] = []
    if text.startswith("["):
        devices = [str(r["dev"]) for r in json.loads(text) if isinstance(r, dict) and "dev" in r]
    else:
        for line in text.splitlines():
            words = line.split()
            if "dev" in words[:-1]:
                devices.append(words[words.index("dev") + 1])
    return interface(devices[0]) if devices else None
