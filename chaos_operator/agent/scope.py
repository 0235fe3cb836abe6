"""Scoping of a network fault (which peers, which ports, which direction) and who owns a pod's fault.

Unscoped egress: the fault qdisc is the device's root (handle c4a0:), as it always was. Scoped: the root is an htb
of ours with two classes at a rate no veth reaches (c4a0:1 for everything else, c4a0:2 for the scoped traffic);
the fault qdisc (handle c4a1:) hangs under c4a0:2 and u32 filters send the scoped packets there. htb rather than
prio: every kernel we run on has htb (this host has no sch_prio). Ingress: an ifb device of ours receives the
device's incoming packets (an ingress qdisc and a mirred redirect) and carries the same layout on its egress.

The scope names the *peer*: leaving the pod, a packet matches when its destination is in `destinations` and its
destination port in `ports`; entering it, when its source is and its source port is (the peer's replies).
u32 reads ports at the fixed offset of a header without IP options (TCP and UDP alike).

Ownership: the agent writes a marker, ``chaos-operator:<experiment uid>``, as the device's alias (ip link
``alias``) before it adds a qdisc, and removes it after its revert. A second experiment's agent that finds another
owner's marker refuses, and a revert never removes a fault whose marker names another experiment.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass

from chaos_operator.agent import tc

DIRECTIONS = ("egress", "ingress", "both")
IFB = "c4a0ifb"  # our ifb device inside the pod's namespace
LEAF_HANDLE = "c4a1:"
PASS_CLASS, FAULT_CLASS = f"{tc.OUR_HANDLE}1", f"{tc.OUR_HANDLE}2"
CLASS_RATE = "100gbit"  # far above any veth: htb never limits either class itself
MAX_DESTINATIONS, MAX_PORTS = 256, 16
MARKER = "chaos-operator:"
OWNER_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Scope:
    destinations: tuple[str, ...] = ()  # CIDRs, normalised
    ports: tuple[int, ...] = ()
    direction: str = "egress"

    @property
    def scoped(self) -> bool:
        return bool(self.destinations or self.ports)

    @property
    def egress(self) -> bool:
        return self.direction in ("egress", "both")

    @property
    def ingress(self) -> bool:
        return self.direction in ("ingress", "both")


def cidr(text: str) -> str:
    """A CIDR (or a bare address, as a /32 or /128), normalised; host bits are refused, not silently dropped."""
    if not isinstance(text, str) or not re.fullmatch(r"[0-9A-Fa-f.:]{2,39}(/[0-9]{1,3})?", text):
        raise ValueError(f"destination {text!r} is not a CIDR like 10.0.0.0/8")
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError as exc:
        raise ValueError(f"destination {text!r}: {exc}") from None


def port(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"port {value!r} must be 1-65535")
    return value


def scope(destinations: list[str] | None, ports: list[int] | None, direction: str | None) -> Scope:
    dests, nums = list(destinations or []), list(ports or [])
    if len(dests) > MAX_DESTINATIONS or len(nums) > MAX_PORTS:
        raise ValueError(f"at most {MAX_DESTINATIONS} destinations and {MAX_PORTS} ports")
    if (direction or "egress") not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
    return Scope(tuple(dict.fromkeys(cidr(d) for d in dests)), tuple(dict.fromkeys(port(p) for p in nums)),
                 direction or "egress")


def owner(text: str) -> str:
    if not isinstance(text, str) or not OWNER_RE.fullmatch(text):
        raise ValueError(f"owner {text!r} is not an experiment UID")
    return text


def _matches(s: Scope, incoming: bool) -> list[tuple[str, list[str]]]:
    """(protocol, u32 match words) for every (destination x port) of the scope, on one side."""
    where, which = ("src", "sport") if incoming else ("dst", "dport")
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network | None] = [ipaddress.ip_network(d) for d in s.destinations]
    nets = nets or [None]
    out: list[tuple[str, list[str]]] = []
    for net in nets:
        families = [net.version] if net is not None else [4, 6]
        for family in families:
            proto, key = ("ip", "ip") if family == 4 else ("ipv6", "ip6")
            numbers: list[int | None] = list(s.ports) or [None]
            for number in numbers:
                words = ["match", key, where, str(net)] if net is not None else []
                if number is not None:
                    words += ["match", key, which, str(number), "0xffff"]
                out.append((proto, words))
    return out


def layout_batch(device: str, fault: tc.Qdisc, s: Scope, incoming: bool) -> list[list[str]]:
    """`tc -batch` lines (each a word list, no shell) of the scoped layout on ``device``."""
    dev = tc.interface(device)
    lines = [["qdisc", "add", "dev", dev, "root", "handle", tc.OUR_HANDLE, "htb", "default", "1"]]
    for classid in (PASS_CLASS, FAULT_CLASS):
        lines.append(["class", "add", "dev", dev, "parent", tc.OUR_HANDLE, "classid", classid, "htb", "rate",
                      CLASS_RATE, "quantum", "60000"])
    lines.append(["qdisc", "add", "dev", dev, "parent", FAULT_CLASS, "handle", LEAF_HANDLE, *fault.args()])
    for proto, words in _matches(s, incoming):
        lines.append(["filter", "add", "dev", dev, "parent", tc.OUR_HANDLE, "protocol", proto, "prio",
                      "1" if proto == "ip" else "2", "u32", *words, "flowid", FAULT_CLASS])
    return lines


def batch_text(lines: list[list[str]]) -> str:
    for words in lines:
        for word in words:  # every word was validated; this is the last line of defence for the batch file
            if not re.fullmatch(r"[A-Za-z0-9_.:/%-]+", word):
                raise ValueError(f"unsafe tc word {word!r}")
    return "".join(" ".join(words) + "\n" for words in lines)


def batch_argv(target_pid: int, root: str = "/proc") -> list[str]:
    return tc.in_netns(target_pid, root) + ["tc", "-batch", "-"]


def ingress_batch(device: str) -> list[list[str]]:
    """Redirect everything arriving on ``device`` to our ifb, whose egress then carries the fault."""
    dev = tc.interface(device)
    return [["qdisc", "add", "dev", dev, "handle", "ffff:", "ingress"],
            ["filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all", "prio", "1", "u32", "match", "u32",
             "0", "0", "action", "mirred", "egress", "redirect", "dev", IFB]]


def ifb_add_argvs(target_pid: int, root: str = "/proc") -> list[list[str]]:
    head = tc.in_netns(target_pid, root)
    return [head + ["ip", "link", "add", IFB, "type", "ifb"], head + ["ip", "link", "set", IFB, "up"]]


def ifb_del_argv(target_pid: int, root: str = "/proc") -> list[str]:
    return tc.in_netns(target_pid, root) + ["ip", "link", "del", IFB]


def ingress_del_argv(target_pid: int, device: str, root: str = "/proc") -> list[str]:
    return tc.in_netns(target_pid, root) + ["tc", "qdisc", "del", "dev", tc.interface(device), "ingress"]


def link_argv(target_pid: int, device: str, root: str = "/proc") -> list[str]:
    return tc.in_netns(target_pid, root) + ["ip", "-j", "link", "show", "dev", tc.interface(device)]


def alias_argv(target_pid: int, device: str, value: str, root: str = "/proc") -> list[str]:
    if value and not (value.startswith(MARKER) and OWNER_RE.fullmatch(value[len(MARKER):])):
        raise ValueError(f"alias {value!r} is not our marker")
    return tc.in_netns(target_pid, root) + ["ip", "link", "set", "dev", tc.interface(device), "alias", value]


def parse_alias(output: str) -> str | None:
    """The device's alias in `ip -j link show dev X`, or None."""
    for item in json.loads(output or "[]"):
        if isinstance(item, dict) and item.get("ifalias"):
            return str(item["ifalias"])
    return None


def marker_owner(alias: str | None) -> str | None:
    """The experiment UID in our marker; "" for an alias that is not ours; None when there is no alias."""
    if alias is None:
        return None
    rest = alias[len(MARKER):] if alias.startswith(MARKER) else ""
    return rest if OWNER_RE.fullmatch(rest) else ""


def has_ingress(qdisc_json: str) -> bool:
    text = qdisc_json.strip()
    return text.startswith("[") and any(isinstance(q, dict) and q.get("kind") == "ingress" for q in json.loads(text))
