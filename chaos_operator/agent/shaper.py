"""tc and ip operations on one pod's network namespace: apply a network fault (scoped or not, either direction),
and revert exactly what is ours. A live PID of the namespace is re-found before each command: an app container may
restart mid-fault, the namespace stays."""

from __future__ import annotations

from dataclasses import dataclass

from chaos_operator.agent import procfs, scope, tc
from chaos_operator.agent.base import EXIT_FOREIGN, EXIT_NOT_FOUND, EXIT_REVERT, EXIT_TC, AgentFailure, run_command


@dataclass
class Shaper:
    pod_uid: str
    proc_root: str
    target: procfs.Target
    device: str = ""
    owner: str | None = None  # the experiment UID our marker names; None: no marker is written

    def live_pid(self) -> int | None:
        if procfs.netns_of(self.proc_root, self.target.pid) == self.target.netns:
            return self.target.pid
        for pid in procfs.pod_pids(self.pod_uid, self.proc_root):
            if procfs.netns_of(self.proc_root, pid) == self.target.netns:
                return pid
        return None

    def _pid(self) -> int:
        pid = self.live_pid()
        if pid is None:
            raise AgentFailure(EXIT_NOT_FOUND, "TargetGone", f"the network namespace of pod {self.pod_uid} is gone")
        return pid

    def _run(self, argv: list[str], what: str, code: int = EXIT_TC, stdin: str | None = None) -> str:
        result = run_command(argv, stdin=stdin)
        if result.returncode != 0:
            raise AgentFailure(code, "TcFailed" if code == EXIT_TC else "RevertFailed",
                               f"{what}: {result.stderr.strip()}")
        return result.stdout

    def resolve_device(self, interface: str | None) -> str:
        if interface:
            self.device = tc.interface(interface)
            return self.device
        for family in (4, 6):
            result = run_command(tc.default_route_argv(self._pid(), self.proc_root, family))
            if result.returncode != 0:
                raise AgentFailure(EXIT_TC, "TcFailed", f"ip route: {result.stderr.strip()}")
            try:
                device = tc.parse_default_route(result.stdout)
            except ValueError as exc:
                raise AgentFailure(EXIT_NOT_FOUND, "NoDefaultRoute", str(exc)) from None
            if device:
                self.device = device
                return device
        raise AgentFailure(EXIT_NOT_FOUND, "NoDefaultRoute", "no default route in the pod's network namespace")

    def _show(self, device: str) -> str:
        return self._run(tc.show_argv(self._pid(), device, self.proc_root), "tc qdisc show")

    def root(self, device: str | None = None) -> tc.RootQdisc:
        return tc.parse_qdisc_show(self._show(device or self.device))

    def ifb_exists(self) -> bool:
        return run_command(scope.link_argv(self._pid(), scope.IFB, self.proc_root)).returncode == 0

    def marker(self) -> str | None:
        """Our marker's experiment UID, "" for an alias that is not ours, None for no alias."""
        out = self._run(scope.link_argv(self._pid(), self.device, self.proc_root), "ip link show")
        return scope.marker_owner(scope.parse_alias(out))

    def _refuse_if_not_ours(self, s: scope.Scope) -> None:
        current = self.root()
        if s.egress and current.state is tc.RootKind.FOREIGN:
            raise AgentFailure(EXIT_FOREIGN, "ForeignQdisc", f"root qdisc {current.kind} {current.handle} on "
                                                             f"{self.device} is not ours; left untouched")
        if s.ingress and scope.has_ingress(self._show(self.device)) and not self.ifb_exists():
            raise AgentFailure(EXIT_FOREIGN, "ForeignQdisc", f"the ingress qdisc on {self.device} is not ours")
        holder = self.marker()
        if holder == "" and self.owner is not None:
            raise AgentFailure(EXIT_FOREIGN, "DeviceAliasInUse",
                               f"{self.device} has an alias that is not ours; nothing touched")
        if holder and holder != self.owner:
            raise AgentFailure(EXIT_FOREIGN, "OtherExperiment",
                               f"experiment {holder} holds a fault on {self.device}; this one is refused")

    def apply(self, qdisc: tc.Qdisc, s: scope.Scope | None = None) -> None:
        s = s or scope.Scope()
        self._refuse_if_not_ours(s)
        if self.owner is not None:
            self._run(scope.alias_argv(self._pid(), self.device, scope.MARKER + self.owner, self.proc_root),
                      "ip link set alias")
        if self.ifb_exists() or (s.scoped and self.root().state is tc.RootKind.OURS):
            self._remove(keep_marker=True)  # an earlier run of ours, of another shape: start clean
        if s.egress:
            self._install(self.device, qdisc, s, incoming=False)
        if s.ingress:
            for argv in scope.ifb_add_argvs(self._pid(), self.proc_root):
                self._run(argv, "ip link add ifb")
            self._batch(scope.ingress_batch(self.device))
            self._install(scope.IFB, qdisc, s, incoming=True)
        for device, wanted in ((self.device, s.egress), (scope.IFB, s.ingress)):
            after = self.root(device) if wanted else None
            kind = "htb" if s.scoped else qdisc.kind
            if after is not None and (after.state is not tc.RootKind.OURS or after.kind != kind):
                raise AgentFailure(EXIT_TC, "VerifyFailed", f"after apply the root qdisc of {device} is "
                                                            f"{after.kind} {after.handle}")

    def _install(self, device: str, qdisc: tc.Qdisc, s: scope.Scope, incoming: bool) -> None:
        if s.scoped:
            self._batch(scope.layout_batch(device, qdisc, s, incoming))
            return
        current = self.root(device)
        if current.state is tc.RootKind.OURS and current.kind != qdisc.kind:
            self._delete_root(device)  # the kernel refuses to replace a qdisc with one of another kind
        self._run(tc.replace_argv(self._pid(), device, qdisc, self.proc_root), "tc qdisc replace")

    def _batch(self, lines: list[list[str]]) -> None:
        self._run(scope.batch_argv(self._pid(), self.proc_root), "tc -batch", stdin=scope.batch_text(lines))

    def _delete_root(self, device: str) -> None:
        self._run(tc.delete_argv(self._pid(), device, self.proc_root), "tc qdisc del", EXIT_REVERT)

    def _remove(self, keep_marker: bool = False) -> bool:
        """Remove every piece of ours (root qdisc, ingress redirect, ifb, marker); True when something was."""
        removed = False
        if self.root().state is tc.RootKind.OURS:
            self._delete_root(self.device)
            removed = True
        if self.ifb_exists():
            if scope.has_ingress(self._show(self.device)):
                self._run(scope.ingress_del_argv(self._pid(), self.device, self.proc_root), "tc qdisc del ingress",
                          EXIT_REVERT)
            self._run(scope.ifb_del_argv(self._pid(), self.proc_root), "ip link del ifb", EXIT_REVERT)
            removed = True
        if not keep_marker and self.owner is not None and self.marker() == self.owner:
            self._run(scope.alias_argv(self._pid(), self.device, "", self.proc_root), "ip link set alias", EXIT_REVERT)
        return removed

    def revert(self) -> str:
        """Remove our fault if, and only if, it is ours (and not another experiment's). Returns what was found."""
        if self.live_pid() is None:
            return "gone"  # the namespace, and our qdisc with it, no longer exists
        try:
            holder = self.marker()
            if holder and holder != self.owner:
                return "absent"  # another experiment's fault: never ours to remove
            removed = self._remove()
            still_ours = self.root().state is tc.RootKind.OURS or self.ifb_exists()
        except AgentFailure as exc:
            if "Cannot find device" in exc.message:
                return "gone"  # the device went with the pod's network
            raise AgentFailure(EXIT_REVERT, "RevertFailed", exc.message) from None
        if still_ours:
            raise AgentFailure(EXIT_REVERT, "RevertFailed", f"our qdisc is still on {self.device}")
        return "reverted" if removed else "absent"
