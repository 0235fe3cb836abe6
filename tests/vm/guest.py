"""Runs inside the kernel-test guest, chrooted in the host's root (read-only over 9p): prepares what the kernel
tests expect of a machine, runs pytest with the project's venv, and leaves the result in the results share.

    python tests/vm/guest.py /run/results/config.json

config.json (written by run.py): {"repo": "/path/to/repo", "pytest_args": [...]}. The result goes to
/run/results/rc (pytest's exit code) and a sentinel line on the console, which run.py reads.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

RESULTS = pathlib.Path("/run/results")
SENTINEL = "CHAOS-KERNEL-VM-RESULT"
CGROUP = pathlib.Path("/sys/fs/cgroup")
# The v1 hierarchies a cgroupfs-driver node (and this project's host) has, and cgroup2 beside them. cpu and memory
# are left to cgroup2 (enabled at its root): the host has them on v1, so this is where their v2 side is tested.
V1_CONTROLLERS = ("cpuacct", "cpuset", "devices", "freezer", "blkio", "pids")
V2_CONTROLLERS = "+cpu +memory"
# Init's root is the initramfs, so the kernel cannot autoload modules from the host's tree (its
# /sbin/modprobe is not there): load what the network faults and the tests' namespaces use up front.
MODULES = ("veth", "sch_netem", "sch_tbf", "sch_htb", "sch_prio", "sch_ingress", "cls_u32", "cls_matchall",
           "act_mirred", "ifb", "sch_fq_codel")


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{argv}: {done.stderr.strip()}")
    return done


def mount_cgroups() -> None:
    run(["mount", "-t", "tmpfs", "-o", "mode=755", "cgroup", str(CGROUP)])
    enabled = {line.split()[0] for line in pathlib.Path("/proc/cgroups").read_text().splitlines()[1:]
               if line.split()[3] == "1"}
    for name in V1_CONTROLLERS:
        if name in enabled:
            (CGROUP / name).mkdir()
            run(["mount", "-t", "cgroup", "-o", name, "cgroup", str(CGROUP / name)])
    (CGROUP / "systemd").mkdir()
    run(["mount", "-t", "cgroup", "-o", "none,name=systemd", "cgroup", str(CGROUP / "systemd")])
    (CGROUP / "unified").mkdir()
    run(["mount", "-t", "cgroup2", "cgroup2", str(CGROUP / "unified")])
    (CGROUP / "unified" / "cgroup.subtree_control").write_text(V2_CONTROLLERS)


def prepare() -> None:
    mount_cgroups()
    for module in MODULES:
        loaded = run(["modprobe", module], check=False)
        if loaded.returncode != 0:
            print(f"guest: modprobe {module} failed: {loaded.stderr.strip()}", flush=True)
    run(["ip", "link", "set", "lo", "up"])
    pathlib.Path("/run/home").mkdir(exist_ok=True)


def main(config_path: str) -> int:
    started = time.monotonic()
    config = json.loads(pathlib.Path(config_path).read_text())
    repo = str(config["repo"])
    prepare()
    env = dict(os.environ, TMPDIR="/run", HOME="/run/home", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1",
               PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG="C.UTF-8")
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={RESULTS / 'junit.xml'}",
            *[str(a) for a in config["pytest_args"]]]
    print(f"guest: kernel {os.uname().release}, {os.cpu_count()} CPUs; running {argv[1:]}", flush=True)
    code = subprocess.run(argv, cwd=repo, env=env, check=False).returncode
    (RESULTS / "rc").write_text(f"{code}\n")
    print(f"{SENTINEL} {json.dumps({'rc': code, 'guest_seconds': round(time.monotonic() - started, 1)})}",
          flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
