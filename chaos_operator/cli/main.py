"""`chaos-operator` command line: run, validate, report, submit, loadworker."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys

from chaos_operator.models.spec import DNS_LABEL
from chaos_operator.runtime import killswitch


def _api_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--kubeconfig", help="kubeconfig file (default for run: the in-cluster service account; "
                                        "for report: that in a pod, else $KUBECONFIG or ~/.kube/config)")
    g.add_argument("--server", help="API server URL, without credentials (local emulator/sandbox)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chaos-operator", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the operator")
    _api_args(run)
    run.add_argument("-n", "--namespace", action="append", default=[],
                     help="watch only this namespace (repeatable; default: all namespaces)")
    run.add_argument("--operator-namespace", default=os.environ.get("POD_NAMESPACE", "chaos-system"),
                     help="the operator's own namespace, never a target (default: $POD_NAMESPACE)")
    run.add_argument("--allow-namespace", action="append", default=[],
                     help="allow experiments only in these namespaces (repeatable)")
    run.add_argument("--protect-namespace", action="append", default=[],
                     help="never run experiments in this namespace, on top of kube-system, kube-public, "
                          "kube-node-lease and the operator's own (repeatable)")
    run.add_argument("--image", default=None,
                     help="the operator's own image, run by helper and stress pods (default: $OPERATOR_IMAGE)")
    run.add_argument("--liveness", default=None,
                     help="kopf's own liveness endpoint (a second listener; prefer /healthz on --metrics-port)")
    run.add_argument("-v", "--verbose", action="store_true")
    from chaos_operator.cli.runflags import add_run_flags

    add_run_flags(run)
    killswitch.add_commands(sub, _api_args, os.environ.get("POD_NAMESPACE", "chaos-system"))
    val = sub.add_parser("validate", help="validate manifests offline against the CRD and the models")
    val.add_argument("files", nargs="+")
    rep = sub.add_parser("report", help="print an experiment's figures, checks and verdict")
    _api_args(rep)
    rep.add_argument("name")
    rep.add_argument("-n", "--namespace", default=None,
                     help="default: the kubeconfig context's namespace, or the pod's")
    rep.add_argument("-o", "--output", choices=["table", "json"], default="table")
    rep.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report (needs the report extra)")
    rep.add_argument("--png", metavar="FILE", help="also write the picture: latency and errors over time")
    # submit and the local sandbox parse their own arguments (see chaos_operator/submit.py, docs/sandbox.md).
    sub.add_parser("submit", add_help=False, help="create an experiment; --wait exits with its verdict") \
        .add_argument("rest", nargs=argparse.REMAINDER)
    sub.add_parser("loadworker", add_help=False, help="run one load worker (in a pod of an experiment's Job)") \
        .add_argument("rest", nargs=argparse.REMAINDER)
    demo = sub.add_parser("demo", add_help=False, help="run two PodKill experiments in the local sandbox")
    demo.add_argument("rest", nargs=argparse.REMAINDER)
    box = sub.add_parser("sandbox", add_help=False, help="local stand-in cluster: sandbox up|down|status")
    box.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Dispatched before argparse: REMAINDER would not pass a leading --help through to them.
    if argv and argv[0] in ("demo", "sandbox"):
        return _sandbox(argv[0], argv[1:])
    if argv and argv[0] == "submit":
        from chaos_operator.cli.submit.command import main_submit

        return main_submit(argv[1:])
    if argv and argv[0] == "loadworker":
        from chaos_operator.loadworker.worker import main as main_loadworker

        return main_loadworker(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "validate":
        from chaos_operator.cli.validate.document import validate_files

        return int(validate_files(args.files))
    if args.command == "report":
        return _report(args)
    if args.command in killswitch.COMMANDS:
        return killswitch.run_command(args)
    return _run(args)


def _sandbox(command: str, rest: list[str]) -> int:
    """The sandbox is a separate distribution (sandbox/), never part of the operator's wheel or image."""
    try:
        from chaos_sandbox.background import main_sandbox
        from chaos_sandbox.demo import main_demo
    except ImportError:
        print(f"chaos-operator {command} needs the sandbox, a separate test and demo package: "
              "pip install ./sandbox (from a checkout of the repository)", file=sys.stderr)
        return 3
    return main_demo(rest) if command == "demo" else main_sandbox(rest)


def _run(args: argparse.Namespace) -> int:
    from chaos_operator.cli.runflags import apply_run_flags, setup_logging
    from chaos_operator.runtime.operator import LeadershipLost, OperatorConfig, run_operator

    setup_logging(args.log_level, args.log_format, args.verbose)
    pod = os.environ.get("POD_NAME")
    config = OperatorConfig(
        server=args.server, kubeconfig=args.kubeconfig, namespaces=args.namespace,
        operator_namespace=args.operator_namespace,
        allowed_namespaces=frozenset(args.allow_namespace) or None,
        protected_namespaces=frozenset(args.protect_namespace),
        operator_pods=frozenset({pod}) if pod else frozenset(),
        liveness_endpoint=args.liveness,
    )
    if args.image:
        config.image = args.image
    apply_run_flags(args, config)
    try:
        asyncio.run(run_operator(config))
    except LeadershipLost as exc:  # restarted as a standby by its Deployment
        logging.getLogger("chaos_operator").error("%s", exc)
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    import re

    from chaos_operator.adapters.kube import KubeClient, default_namespace, user_config
    from chaos_operator.cli.report.table import render

    args.namespace = args.namespace or default_namespace(args.server, args.kubeconfig)
    if not re.fullmatch(DNS_LABEL, args.namespace):
        print(f"invalid namespace {args.namespace!r}", file=sys.stderr)
        return 2
    kube = KubeClient(user_config(server=args.server, kubeconfig=args.kubeconfig))
    try:
        obj = asyncio.run(kube.get_experiment(args.namespace, args.name))
    finally:
        kube.close()
    if obj is None:
        print(f"chaosexperiment {args.namespace}/{args.name} not found", file=sys.stderr)
        return 1
    print(json.dumps(obj.get("status", {}), indent=2) if args.output == "json" else render(obj), end="")
    return _report_files(obj, args.html, args.png)


def _report_files(obj: dict[str, object], html_path: str | None, png_path: str | None) -> int:
    if not (html_path or png_path):
        return 0
    from chaos_operator.cli.report.plot import PlottingUnavailable, png

    picture: bytes | None = None
    try:
        picture = png(obj)
    except PlottingUnavailable as exc:
        print(f"report: {exc}", file=sys.stderr)  # the HTML still has the tables, and says why there is no picture
    if html_path:
        from chaos_operator.cli.report.html import render_html

        with open(html_path, "w", encoding="utf-8") as handle:
            handle.write(render_html(obj, picture))
    if png_path and picture is not None:
        with open(png_path, "wb") as handle:
            handle.write(picture)
    return 3 if png_path and picture is None else 0


if __name__ == "__main__":
    sys.exit(main())
