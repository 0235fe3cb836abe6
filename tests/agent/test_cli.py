"""The agent CLI: every refusal is one JSON line plus an exit code, and nothing is touched."""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import pytest

from chaos_operator.agent import cli, modes, stress, tc

AGENT_DIR = pathlib.Path(cli.__file__).parent
UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = cli.main(list(argv))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines
    return code, json.loads(lines[0])


@pytest.mark.parametrize("argv", [
    [],
    ["delay"],
    ["netem", "--pod-uid", UID, "--duration", "10"],  # no latency
    ["netem", "--pod-uid", UID, "--latency", "10ms"],  # no duration
    ["netem", "--latency", "10ms", "--duration", "10"],  # no pod
    ["netem", "--pod-uid", UID.upper(), "--latency", "10ms", "--duration", "10"],
    ["netem", "--pod-uid", UID, "--latency", "10ms;reboot", "--duration", "10"],
    ["netem", "--pod-uid", UID, "--latency", "10ms", "--correlation", "25", "--duration", "10"],
    ["netem", "--pod-uid", UID, "--latency", "10ms", "--duration", "0"],
    ["netem", "--pod-uid", UID, "--latency", "10ms", "--duration", "25h"],
    ["netem", "--pod-uid", UID, "--latency", "10ms", "--duration", "10", "--interface", "eth0 lo"],
    ["bandwidth", "--pod-uid", UID, "--rate", "2 mbit", "--duration", "10"],
    ["bandwidth", "--pod-uid", UID, "--rate", "2mbit", "--duration", "10", "--proc-root", "proc"],
    ["bandwidth", "--pod-uid", UID, "--rate", "2mbit", "--duration", "10", "--bogus"],
    ["bandwidth", "--pod-uid", UID, "--rate", "2mbit", "--duration", "10", "--burst", "32Ki"],
    ["bandwidth", "--pod-uid", UID, "--rate", "2mbit", "--duration", "10", "--limit", "100"],
    ["stress", "--duration", "10"],  # no workers
    ["stress", "--cpu", "x", "--duration", "10"],
    ["stress", "--cpu", "1", "--revert-only"],
    ["stress", "--cpu", "1"],
    ["loss", "--pod-uid", UID, "--duration", "10"],  # no percent
    ["loss", "--pod-uid", UID, "--duration", "10", "--percent", "0"],
    ["corrupt", "--pod-uid", UID, "--duration", "10", "--percent", "5%;x"],
    ["duplicate", "--pod-uid", UID, "--duration", "10", "--percent", "5", "--port", "0"],
    ["partition", "--pod-uid", UID, "--duration", "10"],  # no destination
    ["partition", "--pod-uid", UID, "--duration", "10", "--destination", "10.0.0.1/8"],  # host bits
    ["partition", "--pod-uid", UID, "--duration", "10", "--destination", "10.0.0.0/8", "--direction", "up"],
    ["netem", "--pod-uid", UID, "--latency", "10ms", "--duration", "10", "--owner", "someone"],
    ["stress", "--duration", "10", "--cpu", "1", "--owner", UID],  # network options are not stress options
])
def test_bad_arguments_exit_2_with_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, report = run_main(capsys, *argv)
    assert code == 2
    assert report["state"] == "invalid" and report["reason"] == "BadArguments"
    assert isinstance(report["error"], str) and report["error"]
    assert report["fault"] == (argv[0] if argv and argv[0] in modes.MODES else None)


def test_target_not_found_exit_3_and_termination_log(
    capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    proc_root = tmp_path / "proc"
    proc_root.mkdir()
    log = tmp_path / "termination-log"
    code, report = run_main(capsys, "bandwidth", "--pod-uid", UID, "--rate", "2mbit", "--duration", "5",
                            "--proc-root", str(proc_root), "--termination-log", str(log))
    assert code == 3
    assert report["state"] == "refused" and report["reason"] == "TargetNotFound"
    assert json.loads(log.read_text()) == report
    code, report = run_main(capsys, "netem", "--revert-only", "--pod-uid", UID, "--proc-root", str(proc_root))
    assert code == 3 and report["fault"] == "netem"


@pytest.mark.parametrize("argv", [
    ["netem", "--duration", "120", "--pod-uid", UID, "--proc-root", "/host/proc", "--latency", "100ms",
     "--jitter", "10ms", "--correlation", "25%", "--interface", "eth0"],
    ["netem", "--duration", "1", "--pod-uid", UID, "--latency", "1.5s"],
    ["bandwidth", "--duration", "60", "--pod-uid", UID, "--proc-root", "/host/proc", "--rate", "512kbit",
     "--burst", "32768", "--limit", "103809024"],
    ["netem", "--revert-only", "--pod-uid", UID, "--proc-root", "/host/proc", "--interface", "net1"],
    ["stress", "--duration", "30", "--cpu", "2", "--cpu-load", "80"],
    ["stress", "--duration", "30", "--vm", "4", "--vm-bytes", "16384M"],
])
def test_operator_shaped_argv_parses(argv: list[str]) -> None:
    # The operator's helper pods send argv of these shapes; parsing must accept them all.
    args = cli.build_parser().parse_args(argv)
    assert args.fault == argv[0]
    if args.fault == "stress":
        stress.stress_argv(cli.duration(args.duration), "/tmp", cpu=args.cpu, cpu_load=args.cpu_load, vm=args.vm,
                           vm_bytes=args.vm_bytes)
    elif not args.revert_only:
        qdisc = tc.netem(args.latency, args.jitter, args.correlation) if args.fault == "netem" else tc.tbf(
            args.rate, args.burst, args.limit)
        assert tc.replace_argv(1, args.interface or "eth0", qdisc, args.proc_root)


def test_durations_in_both_forms() -> None:
    assert cli.duration("120") == 120.0
    assert cli.duration("2m") == 120.0
    assert cli.duration("1.5") == 1.5
    for bad in ["", "1e3", "-1", "0", "25h", "1 s"]:
        with pytest.raises(ValueError):
            cli.duration(bad)


def test_module_entry_point_and_help() -> None:
    result = subprocess.run([sys.executable, "-m", "chaos_operator.agent", "netem", "--help"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0 and "--latency" in result.stdout
    result = subprocess.run([sys.executable, "-m", "chaos_operator.agent", "bandwidth", "--rate", "x"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert json.loads(result.stdout)["reason"] == "BadArguments"


def test_agent_imports_only_stdlib_and_its_own_helpers() -> None:
    allowed_local = {"chaos_operator.agent", "chaos_operator.models.duration", "chaos_operator.models.agent_report"}
    for path in sorted(AGENT_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__" or any(
                    name == m or name.startswith(m + ".") for m in allowed_local
                ), f"{path.name} imports {name}"
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "shell":
                        literal_false = isinstance(kw.value, ast.Constant) and kw.value.value is False
                        assert literal_false, f"{path.name}: shell= must be a literal False"
