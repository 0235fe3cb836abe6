"""The kernel-test tier: boot Debian's kernel under QEMU (TCG) and run the agent's netem tests in it.

    python tests/vm/run.py [--out build/kernel-vm] [--timeout 1500] [-- PYTEST ARGS...]

This host's kernel has no sch_netem, so the tests marked `kernel_vm` skip here. The guest has it: Debian's
`linux-image-amd64` booted with a tiny initramfs (tests/vm/initramfs.py) that mounts this machine's root
read-only over 9p and runs tests/vm/guest.py chrooted in it, with the project's own venv. The guest has no
network device (`-nic none`): its traffic stays between namespaces inside it. Results come back through a
second, writable 9p share (`--out`: junit.xml, rc, console.log) and a sentinel line on the serial console.

Exit code: pytest's inside the guest; 3 when the tier cannot run here (QEMU or the kernel missing and not
installable), with the reason printed, so the tier is never silently absent; 4 when the guest gave no result
(timeout, crash).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time

if __package__ in (None, ""):  # run as a script: make `tests.vm` importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from tests.vm import initramfs
from tests.vm.guest import SENTINEL

REPO = pathlib.Path(__file__).resolve().parents[2]
QEMU = "qemu-system-x86_64"
APT_PACKAGES = ["qemu-system-x86", "linux-image-amd64", "busybox-static"]
DEFAULT_PYTEST = ["-q", "-ra", "-s", "--color=no", "-m", "kernel_vm", "tests/agent", "tests/e2e"]
EXIT_UNAVAILABLE, EXIT_NO_RESULT = 3, 4


class Unavailable(Exception):
    pass


def kernel_version() -> str | None:
    """The newest Debian kernel in /boot whose modules have both 9p and sch_netem."""
    found = []
    for image in pathlib.Path("/boot").glob("vmlinuz-*"):
        version = image.name.removeprefix("vmlinuz-")
        mods = pathlib.Path("/lib/modules") / version / "kernel"
        if (mods / "fs/9p/9p.ko").exists() and (mods / "net/sched/sch_netem.ko").exists():
            found.append(version)
    return sorted(found)[-1] if found else None


def missing() -> list[str]:
    gaps = []
    if shutil.which(QEMU) is None:
        gaps.append("qemu-system-x86")
    if kernel_version() is None:
        gaps.append("linux-image-amd64")
    if not initramfs.BUSYBOX.exists():
        gaps.append("busybox-static")
    return gaps


def ensure_tools() -> str:
    """Install what is missing with apt-get (nothing when all is present); the kernel version to boot."""
    gaps = missing()
    if gaps:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            raise Unavailable(f"missing {', '.join(gaps)} and cannot apt-get install here (needs root and apt)")
        print(f"kernel-vm: apt-get install {' '.join(APT_PACKAGES)}", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for argv in (["apt-get", "update", "-qq"],
                     ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *APT_PACKAGES]):
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1200, check=False)
            if done.returncode != 0:
                raise Unavailable(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
        if gaps := missing():
            raise Unavailable(f"still missing after apt-get install: {', '.join(gaps)}")
    version = kernel_version()
    assert version is not None
    return version


def qemu_argv(version: str, initrd: pathlib.Path, out: pathlib.Path, memory_mb: int, cpus: int) -> list[str]:
    return [QEMU, "-accel", "tcg", "-cpu", "max", "-m", str(memory_mb), "-smp", str(cpus),
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-nic", "none",
            "-no-reboot", "-kernel", f"/boot/vmlinuz-{version}", "-initrd", str(initrd),
            "-append", "console=ttyS0 panic=-1 quiet loglevel=4",
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={out},mount_tag=results,security_model=none,multidevs=remap"]


def boot(argv: list[str], console: pathlib.Path, timeout: float) -> dict[str, object] | None:
    """Run the guest, copying its console to ours and to `console`; the sentinel's figures, or None."""
    result: dict[str, object] | None = None
    with console.open("w") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode(errors="replace").replace("\r", "")
                log.write(line)
                sys.stdout.write(line)
                sys.stdout.flush()
                if line.startswith(SENTINEL):
                    result = json.loads(line[len(SENTINEL):])
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "build" / "kernel-vm"), help="results directory")
    parser.add_argument("--timeout", type=float, default=1500.0, help="seconds for the whole guest run")
    parser.add_argument("--memory", type=int, default=3072, help="guest memory in MiB")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("pytest_args", nargs="*", help="pytest arguments (default: the kernel_vm tests)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        version = ensure_tools()
    except Unavailable as exc:
        print(f"kernel-vm: SKIPPED, the VM tier cannot run here: {exc}", flush=True)
        return EXIT_UNAVAILABLE
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("junit.xml", "rc", "console.log", "config.json"):
        (out / stale).unlink(missing_ok=True)
    (out / "config.json").write_text(json.dumps({"repo": str(REPO), "pytest_args": args.pytest_args or
                                                 DEFAULT_PYTEST}))
    python = pathlib.Path(sys.executable)  # the venv's python: its path, not the symlink's target
    image = initramfs.build(version, [str(python), str(REPO / "tests/vm/guest.py"), "/run/results/config.json"],
                            keep=[str(REPO)])
    initrd = out / "initramfs.cpio.gz"
    initrd.write_bytes(image)
    print(f"kernel-vm: kernel {version}, initramfs {len(image)} bytes sha256 {initramfs.digest(image)[:16]}",
          flush=True)
    result = boot(qemu_argv(version, initrd, out, args.memory, args.cpus), out / "console.log", args.timeout)
    wall = time.monotonic() - started
    rc_file = out / "rc"
    if result is None or not rc_file.exists():
        print(f"kernel-vm: FAILED, no result from the guest after {wall:.0f}s (see {out / 'console.log'})")
        return EXIT_NO_RESULT
    code = int(rc_file.read_text().strip())
    print(f"kernel-vm: pytest exit {code} in the guest ({result.get('guest_seconds')}s); wall {wall:.0f}s; "
          f"junit {out / 'junit.xml'}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
