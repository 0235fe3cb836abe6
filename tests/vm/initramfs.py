"""A reproducible initramfs for the kernel-test guest: busybox, the 9p modules of the guest kernel, our init.

The archive is a gzip'd cpio "newc" written here byte by byte: entries in a fixed order, every mtime, uid and
gid 0, gzip's own timestamp 0. The same inputs (kernel version, busybox binary, init script, guest argv) give
the same bytes, so its sha256 identifies what a run booted.
"""

from __future__ import annotations

import gzip
import hashlib
import pathlib
import stat
from dataclasses import dataclass, field

# What init needs to mount the host's root over 9p: the virtio PCI transport, 9p over virtio, the 9p fs.
BOOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p")
BUSYBOX = pathlib.Path("/bin/busybox")
INIT = pathlib.Path(__file__).with_name("init")


def module_paths(modules_dir: pathlib.Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (path relative to modules_dir, dependency names) from modules.dep."""
    table: dict[str, tuple[str, list[str]]] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        path, _, deps = line.partition(":")
        names = [_name(d) for d in deps.split()]
        table[_name(path)] = (path, names)
    return table


def _name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return base.split(".ko", 1)[0].replace("-", "_")


def load_order(modules_dir: pathlib.Path, wanted: tuple[str, ...] = BOOT_MODULES) -> list[tuple[str, str]]:
    """(name, relative path) for `wanted` and their dependencies, each after what it depends on."""
    table = module_paths(modules_dir)
    order: list[tuple[str, str]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        if name not in table:
            raise FileNotFoundError(f"module {name} is not in {modules_dir}/modules.dep")
        seen.add(name)
        path, deps = table[name]
        for dep in reversed(deps):  # modules.dep lists the deepest dependency last
            visit(dep)
        if not path.endswith(".ko"):
            raise ValueError(f"{path}: compressed modules are not supported by busybox insmod here")
        order.append((name, path))

    for name in wanted:
        visit(name)
    return order


@dataclass
class Cpio:
    """A newc archive built in memory."""

    chunks: list[bytes] = field(default_factory=list)
    inode: int = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        fields = (self.inode, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(f"{value:08x}".encode() for value in fields)
        self.inode += 1
        self.chunks += [header, encoded, _pad(len(header) + len(encoded)), data, _pad(len(data))]

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, executable: bool = False) -> None:
        self._entry(name, stat.S_IFREG | (0o755 if executable else 0o644), data)

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        raw = b"".join(self.chunks)
        return raw + _pad(len(raw), 512)


def _pad(length: int, unit: int = 4) -> bytes:
    return b"\0" * (-length % unit)


def build(kernel_version: str, guest_argv: list[str], keep: list[str] | None = None) -> bytes:
    """The gzip'd initramfs for `kernel_version` whose init runs `guest_argv` chrooted in the host's root. `keep`:
    host directories that must stay visible although they lie under the guest's fresh tmpfs /tmp or /run (a
    checkout in /tmp, as CI's may be)."""
    for word in [*guest_argv, *(keep or [])]:
        if not word or any(ch.isspace() for ch in word) or any(ch in word for ch in "*?[$`\\\"'"):
            raise ValueError(f"guest argv word {word!r}: plain words only (init splits on newlines)")
    modules_dir = pathlib.Path("/lib/modules") / kernel_version
    order = load_order(modules_dir)
    archive = Cpio()
    for directory in ("bin", "dev", "proc", "sys", "host", "ro", "modules", "vm"):
        archive.directory(directory)
    archive.char_device("dev/console", 5, 1)
    archive.file("bin/busybox", BUSYBOX.read_bytes(), executable=True)
    archive.file("init", INIT.read_bytes(), executable=True)
    for name, path in order:
        archive.file(f"modules/{name}.ko", (modules_dir / path).read_bytes())
    archive.file("modules/order", "".join(f"{name}\n" for name, _ in order).encode())
    archive.file("vm/argv", "".join(f"{word}\n" for word in guest_argv).encode())
    archive.file("vm/keep", "".join(f"{path}\n" for path in keep or []).encode())
    return gzip.compress(archive.finish(), compresslevel=6, mtime=0)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
