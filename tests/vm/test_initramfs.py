"""The VM tier's initramfs: the same inputs give the same bytes, and the archive holds what init needs, read back
with busybox's own cpio (the one the guest's kernel format is checked against here)."""

from __future__ import annotations

import gzip
import pathlib
import subprocess

import pytest

from tests.vm import initramfs
from tests.vm.run import kernel_version

ARGV = ["/repo/.venv/bin/python", "/repo/tests/vm/guest.py", "/run/results/config.json"]


@pytest.fixture
def version() -> str:
    found = kernel_version()
    if found is None or not initramfs.BUSYBOX.exists():
        pytest.skip("no Debian kernel with 9p and netem, or no busybox-static: make kernel-test installs them, "
                    "then runs these tests")
    return found


def test_build_is_reproducible_and_complete(version: str) -> None:
    image = initramfs.build(version, ARGV)
    assert image == initramfs.build(version, ARGV)
    listed = subprocess.run([str(initramfs.BUSYBOX), "cpio", "-t"], input=gzip.decompress(image),
                            capture_output=True, timeout=30, check=True).stdout.decode().split()
    modules = [name for name, _ in initramfs.load_order(pathlib.Path("/lib/modules") / version)]
    assert modules[-1] == "9p" and modules.index("9pnet") < modules.index("9pnet_virtio")
    assert {"init", "bin/busybox", "dev/console", "modules/order", "vm/argv"} <= set(listed)
    assert {f"modules/{m}.ko" for m in modules} <= set(listed)


@pytest.mark.parametrize("word", ["", "a b", "$(id)", "x*", "it's"])
def test_guest_argv_must_be_plain_words(version: str, word: str) -> None:
    with pytest.raises(ValueError, match="plain words"):
        initramfs.build(version, [*ARGV[:2], word])
