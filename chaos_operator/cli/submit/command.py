"""`chaos-operator submit FILE`: create an experiment from a manifest or template, optionally wait for its verdict.

For CI gates and the Helm chart's scheduled runs. Inside a pod it uses the service account, elsewhere the
kubeconfig ($KUBECONFIG or ~/.kube/config), unless --kubeconfig or --server says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
from typing import Any, NoReturn, TextIO

from chaos_operator.cli.submit import follow, schedule
from chaos_operator.cli.submit.follow import EXIT_CODES_HELP, EXIT_ERROR, EXIT_PASSED, Progress
from chaos_operator.cli.submit.new_experiment import BadInput, build, read
from chaos_operator.models.spec import ExperimentSpec

SCHEDULE_TEMPLATE = "/etc/chaos-operator/schedule/experiment.yaml"  # the chart's ConfigMap, mounted
TIMEOUT_MARGIN_S = 300.0  # default --timeout: the phases plus this


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """A usage error is bad input: exit 3 (argparse's 2 would read as Inconclusive)."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="chaos-operator submit", description=__doc__, epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE",
                   help=f"a ChaosExperiment manifest or template (name or generateName); the chart's scheduled "
                        f"runs use {SCHEDULE_TEMPLATE}")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--kubeconfig", help="kubeconfig file (default: the service account in a pod, else the kubeconfig)")
    g.add_argument("--server", help="API server URL, without credentials (local emulator/sandbox)")
    p.add_argument("-n", "--namespace", default=None,
                   help="namespace (default: the manifest's, else the context's or the pod's, else default)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field, e.g. phases.chaos=3m or load.rate=20 (repeatable; typed by the CRD "
                        "schema; `\\.` for a dot inside a key; VALUE null removes the field)")
    p.add_argument("-l", "--label", dest="labels", action="append", default=[], metavar="KEY=VALUE",
                   help="add a label to the experiment (repeatable)")
    p.add_argument("--wait", action="store_true", help="follow the experiment to its verdict; the exit code says it")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help=f"with --wait: give up after this long, exit 4 (default: the phases + {TIMEOUT_MARGIN_S:g}s)")
    p.add_argument("--abort-on-timeout", action="store_true",
                   help="on a timeout, set spec.abort so the operator recovers and stops the experiment")
    p.add_argument("-o", "--output", choices=["table", "json"], default="table",
                   help="final output with --wait: the report table, or the status as JSON (progress then "
                        "goes to stderr)")
    p.add_argument("--junit", metavar="FILE", help="with --wait: write JUnit XML, one test case per check")
    p.add_argument("--schedule", metavar="NAME",
                   help="a scheduled run: label chaosoperator.dev/schedule=NAME, a fixed name becomes a "
                        "generateName prefix, and refuse (exit 3) while the schedule's previous run is running")
    p.add_argument("--keep-history", type=int, default=None, metavar="N",
                   help="with --schedule: keep the newest N experiments of the schedule, delete older finished ones")
    p.add_argument("--poll", type=float, default=1.0, metavar="SECONDS", help=argparse.SUPPRESS)
    return p


def main_submit(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        return asyncio.run(_submit(args, sys.stdout, sys.stderr))
    except BadInput as exc:
        print(f"submit: {exc}\nnothing was created.", file=sys.stderr)
        return EXIT_ERROR


def _check_options(args: argparse.Namespace) -> None:
    if args.keep_history is not None and (args.schedule is None or args.keep_history < 1):
        raise BadInput("--keep-history N needs --schedule and N >= 1")
    if args.timeout is not None and args.timeout <= 0:
        raise BadInput("--timeout must be positive")
    if (args.junit or args.abort_on_timeout) and not args.wait:
        raise BadInput("--junit and --abort-on-timeout need --wait")


async def _submit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from chaos_operator.adapters.kube import KubeClient, default_namespace, user_config

    _check_options(args)
    doc = read(args.file)
    try:
        cfg = user_config(args.server, args.kubeconfig)
        fallback_ns = default_namespace(args.server, args.kubeconfig)
    except Exception as exc:
        print(f"submit: no cluster to talk to: {exc}", file=err)
        return EXIT_ERROR
    body = build(doc, sets=args.sets, namespace=args.namespace, default_namespace=fallback_ns,
                 labels=args.labels, schedule=args.schedule, now=datetime.datetime.now(datetime.UTC))
    spec = ExperimentSpec.model_validate(body["spec"])
    ns = body["metadata"]["namespace"]
    kube = KubeClient(cfg)
    try:
        return await _create_and_follow(kube, args, body, spec, ns, out, err)
    except Exception as exc:  # the API refused or could not be reached
        print(f"submit: {type(exc).__name__}: {' '.join(str(exc).split())[:2000]}", file=err)
        return EXIT_ERROR
    finally:
        kube.close()


async def _create_and_follow(kube: Any, args: argparse.Namespace, body: dict[str, Any], spec: ExperimentSpec,
                             ns: str, out: TextIO, err: TextIO) -> int:
    if args.schedule is not None:
        busy = await schedule.still_running(kube, ns, args.schedule)
        if busy is not None:
            print(f"submit: refused: {busy}", file=err)
            return EXIT_ERROR
    created = await kube.create_experiment(ns, body)
    name = created["metadata"]["name"]
    progress = Progress(err if args.output == "json" else out)
    progress.say(f"created chaosexperiment {ns}/{name}")
    if args.schedule is not None and args.keep_history is not None:
        for gone in await schedule.prune(kube, ns, args.schedule, args.keep_history):
            progress.say(f"deleted {gone} (keeping the newest {args.keep_history} of schedule {args.schedule})")
    if not args.wait:
        return EXIT_PASSED
    phases = spec.phases
    timeout = args.timeout or float(phases.baseline) + float(phases.chaos) + float(phases.recovery) + TIMEOUT_MARGIN_S
    code, obj = await follow.follow(lambda: kube.get_experiment(ns, name), progress, timeout, args.poll)
    if code == follow.EXIT_TIMEOUT and args.abort_on_timeout:
        await kube.patch_experiment_spec(ns, name, {"abort": True})
        progress.say("set spec.abort: the operator recovers any fault and ends the experiment Aborted")
    if obj:
        _final(obj, args.output, out)
        if args.junit:
            follow.junit(obj, code, args.junit)
            progress.say(f"wrote {args.junit}")
    return code


def _final(obj: dict[str, Any], output: str, out: TextIO) -> None:
    from chaos_operator.cli.report.table import render

    if output == "json":
        print(json.dumps(obj.get("status") or {}, indent=2), file=out)
    else:
        print("\n" + render(obj), end="", file=out, flush=True)
