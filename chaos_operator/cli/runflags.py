"""`chaos-operator run` flags beyond the basics: leader election, metrics port, kill-switch gates, logging."""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import pathlib
import sys

from chaos_operator.models.spec import FAULT_KINDS
from chaos_operator.runtime.leader.rules import Timing
from chaos_operator.runtime.operator import LOAD_RUNNERS, OperatorConfig

LEVELS = ("debug", "info", "warning", "error")


def add_run_flags(run: argparse.ArgumentParser) -> None:
    run.add_argument("--leader-election", action=argparse.BooleanOptionalAction, default=False,
                     help="hold the Lease chaos-operator-leader in the operator's namespace before handling "
                          "anything (the Helm chart turns it on; default off)")
    run.add_argument("--lease-duration", type=float, default=15.0, metavar="SECONDS",
                     help="a standby takes over this long after the leader's last renewal (default 15)")
    run.add_argument("--renew-deadline", type=float, default=10.0, metavar="SECONDS",
                     help="a leader that could not renew for this long stops handling (default 10)")
    run.add_argument("--retry-period", type=float, default=2.0, metavar="SECONDS",
                     help="between Lease attempts (default 2)")
    run.add_argument("--metrics-port", type=int, default=8080,
                     help="serve /metrics, /healthz and /readyz on this port, the only one the operator "
                          "listens on (default 8080; 0 disables)")
    run.add_argument("--require-opt-in", action="store_true",
                     help="run experiments only in namespaces labelled chaosoperator.dev/allow=true")
    run.add_argument("--recovery-retry", type=float, default=120.0, metavar="SECONDS",
                     help="a failing revert is retried with backoff this long before its record is RecoveryFailed "
                          "and the experiment fails (default 120)")
    run.add_argument("--max-running-experiments", type=int, default=0, metavar="N",
                     help="experiments running at once; more wait Pending/Queued, first come first served "
                          "(default 0: no cap; the chart sets one)")
    run.add_argument("--max-helpers-per-node", type=int, default=0, metavar="N",
                     help="this operator's helper and stress pods on one node; past it an injection fails with the "
                          "reason (reverts are never held back; default 0: no cap; the chart sets one)")
    run.add_argument("--disable-fault", action="append", default=[], choices=FAULT_KINDS, metavar="KIND",
                     help="refuse experiments of this kind (Failed/FaultDisabled); repeatable. The chart sets "
                          "PodKill when faults.podKill.enabled is false, and grants no pods delete then")
    run.add_argument("--allow-prometheus-url", action="append", default=[], metavar="URL",
                     help="a spec.prometheus.url experiments may name; repeatable. None: Prometheus features "
                          "are refused (Failed/PrometheusRefused). Link-local and metadata addresses never")
    run.add_argument("--load-runner", choices=LOAD_RUNNERS, default=os.environ.get("CHAOS_LOAD_RUNNER") or "workers",
                     help="who sends an experiment's load: workers (the default: an indexed Job of load workers in "
                          "the experiment's namespace; docs/architecture.md, \"Load workers\") or inprocess (this "
                          "process's event loop, GET/HEAD only: e.g. `run` on a laptop whose kubeconfig reaches the "
                          "API server but not the workers' pod IPs). Env CHAOS_LOAD_RUNNER")
    run.add_argument("--load-token-key-file", default=os.environ.get("CHAOS_LOAD_TOKEN_KEY_FILE"), metavar="PATH",
                     help="the key the workers' per-experiment tokens are derived from (HMAC of the experiment "
                          "UID); the chart mounts one. None: a random key of this process only, so another operator "
                          "process cannot resume its runs. Env CHAOS_LOAD_TOKEN_KEY_FILE")
    run.add_argument("--log-level", choices=LEVELS, default=None, help="default info (-v: debug)")
    run.add_argument("--log-format", choices=("text", "json"), default="text",
                     help="json: one JSON object per line, for log pipelines")


def apply_run_flags(args: argparse.Namespace, config: OperatorConfig) -> None:
    try:
        config.lease = Timing(lease_s=args.lease_duration, renew_deadline_s=args.renew_deadline,
                              retry_s=args.retry_period)
    except ValueError as exc:
        sys.exit(f"chaos-operator run: {exc}")
    if not 0 <= args.metrics_port <= 65535:
        sys.exit("chaos-operator run: --metrics-port must be 0..65535")
    if not 0 < args.recovery_retry <= 3600:
        sys.exit("chaos-operator run: --recovery-retry must be within (0, 3600] seconds")
    config.recover_retry_s = args.recovery_retry
    if args.max_running_experiments < 0 or args.max_helpers_per_node < 0:
        sys.exit("chaos-operator run: --max-running-experiments and --max-helpers-per-node must be 0 (no cap) or more")
    config.max_running = args.max_running_experiments or None
    config.max_helpers_per_node = args.max_helpers_per_node or None
    config.leader_election = args.leader_election
    config.metrics_port = args.metrics_port or None
    config.require_opt_in = args.require_opt_in
    config.disabled_faults = frozenset(args.disable_fault)
    config.prometheus_urls = tuple(args.allow_prometheus_url)
    if args.load_runner not in LOAD_RUNNERS:
        sys.exit(f"chaos-operator run: --load-runner must be one of {', '.join(LOAD_RUNNERS)}")
    config.load_runner = args.load_runner
    if args.load_token_key_file:
        try:
            key = pathlib.Path(args.load_token_key_file).read_bytes().strip()
        except OSError as exc:
            sys.exit(f"chaos-operator run: --load-token-key-file: {exc}")
        if len(key) < 16:
            sys.exit("chaos-operator run: --load-token-key-file must hold at least 16 bytes")
        config.load_token_key = key


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: str | None, fmt: str, verbose: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=(level or ("debug" if verbose else "info")).upper(), handlers=[handler], force=True)
