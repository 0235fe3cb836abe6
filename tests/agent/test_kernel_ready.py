"""The agent's ready file against real tc and stress-ng: it exists exactly while the fault is in place.

The helper pod's readinessProbe (`test -e FILE`) makes the pod Ready from this file, and the operator counts a fault
as Injected only then; so the file must appear only once the qdisc is there and go before the qdisc does. To see the
order without timing, the agent's `tc` is found through a PATH entry of the test that notes, at every call that
changes qdiscs, whether the ready file exists at that instant, and then execs the real tc.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import sys

import pytest

from tests.agent.conftest import FakePod
from tests.agent.kernel import NetPair, Procs, applied, default_root, finish, stop, stress_tree
from tests.support.waits import wait_for

CHANGES = ("add", "replace", "change", "del", "delete", "-batch")
NOTING_TC = """import os, sys
args = sys.argv[1:]
if any(word in args for word in {changes!r}):
    with open({log!r}, "a", encoding="utf-8") as handle:
        handle.write(f"{{int(os.path.exists({ready!r}))}} {{' '.join(args)}}\\n")
os.execv({real!r}, [{real!r}, *args])
"""


def noting_tc(directory: pathlib.Path, ready: pathlib.Path, log: pathlib.Path) -> list[str]:
    """A `tc` first on PATH that notes the ready file's presence at each changing call; the env prefix for it."""
    real = shutil.which("tc")
    assert real is not None
    directory.mkdir()
    script = directory / "tc"
    script.write_text(f"#!{sys.executable}\n" + NOTING_TC.format(changes=CHANGES, log=str(log), ready=str(ready),
                                                                  real=real))
    script.chmod(0o755)
    return ["env", f"PATH={directory}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"]


def test_ready_file_exists_only_while_the_tbf_qdisc_is_in_place(
    netpair: NetPair, fake_pod: FakePod, procs: Procs, tmp_path: pathlib.Path
) -> None:
    ready, log = tmp_path / "ready" / "applied", tmp_path / "tc-calls"
    ready.parent.mkdir()
    prefix = noting_tc(tmp_path / "bin", ready, log)
    agent = procs.agent("bandwidth", "--pod-uid", fake_pod.uid, "--rate", "2mbit", "--duration", "60",
                        "--ready-file", str(ready), prefix=prefix)
    wait_for("the ready file", ready.exists, 15, every=0.005)
    assert applied(netpair) and "tbf c4a0: root" in netpair.qdisc()  # ready: the qdisc is there (and held)
    stop(agent, signal.SIGTERM)
    code, report, err = finish(agent, 15)
    assert code == 0, err
    assert report["state"] == "reverted" and report["revert"] == "reverted"
    assert not ready.exists() and default_root(netpair)
    calls = log.read_text().splitlines()
    print(f"\n[agent figures] qdisc-changing tc calls (ready file present?): {calls}")
    installs = [c for c in calls if " add " in f" {c} " or " replace " in f" {c} "]
    removals = [c for c in calls if " del " in f" {c} " or " delete " in f" {c} "]
    assert installs and removals, calls
    # Every change, the install before the file appeared and the removal after it went, saw no ready file.
    assert all(c.startswith("0 ") for c in calls), calls


def test_no_ready_file_when_the_fault_is_never_applied(procs: Procs,
                                                       tmp_path: pathlib.Path) -> None:
    ready = tmp_path / "applied"
    missing = "0d5e8f3a-91c2-4b7e-8a61-000000000000"  # no process of such a pod: refused before any tc
    code, report, _ = finish(procs.agent("bandwidth", "--pod-uid", missing, "--rate", "2mbit", "--duration", "30",
                                         "--ready-file", str(ready)), 15)
    assert code == 3 and report["state"] == "refused" and not ready.exists()


@pytest.mark.skipif(shutil.which("stress-ng") is None, reason="stress-ng is not installed (apt-get install stress-ng)")
def test_stress_is_ready_once_its_workers_run_and_unready_when_stopped(procs: Procs, tmp_path: pathlib.Path) -> None:
    ready = tmp_path / "applied"
    agent = procs.agent("stress", "--cpu", "2", "--cpu-load", "10", "--duration", "60", "--ready-file", str(ready))
    wait_for("the ready file", ready.exists, 15, every=0.01)
    workers = sorted(stress_tree(agent.pid).values())  # each worker said "started" itself: all of them exist
    assert workers == ["stress-ng", "stress-ng-cpu", "stress-ng-cpu"], workers
    stop(agent, signal.SIGTERM)
    code, report, err = finish(agent, 15)
    assert code == 0, err
    assert report["state"] == "stopped" and not ready.exists()
