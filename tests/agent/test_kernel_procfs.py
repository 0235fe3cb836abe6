"""procfs against the real /proc: processes placed in real cgroups shaped like a kubelet's."""

from __future__ import annotations

import pathlib
import secrets
import subprocess
import uuid

import pytest

from chaos_operator.agent import procfs
from tests.agent.kernel import CGROUP_ROOT, Cgroup


def cgroup2_root() -> Cgroup | None:
    for base in (CGROUP_ROOT / "unified", CGROUP_ROOT):
        if (base / "cgroup.controllers").exists():
            return Cgroup(base, [])
    return None


@pytest.mark.usefixtures("kernel")
def test_systemd_shape_on_cgroup2_with_a_conmon_sibling() -> None:
    root = cgroup2_root()
    if root is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    uid = str(uuid.uuid4())
    pod_slice = ["kubepods.slice", "kubepods-besteffort.slice",
                 f"kubepods-besteffort-pod{uid.replace('-', '_')}.slice"]
    cid = secrets.token_hex(32)
    container = Cgroup(root.base, [*pod_slice, f"crio-{cid}.scope"])
    conmon = Cgroup(root.base, [*pod_slice, f"crio-conmon-{cid}.scope"])
    app = subprocess.Popen(["unshare", "--net", "sleep", "60"])  # own netns, like a container
    monitor = subprocess.Popen(["sleep", "60"])  # host netns, like conmon
    try:
        container.create().add(app.pid)
        conmon.create().add(monitor.pid)
        assert f"0::/{'/'.join(container.segments)}" in pathlib.Path(f"/proc/{app.pid}/cgroup").read_text()
        assert procfs.pod_pids(uid) == [app.pid]
        target = procfs.find_target(uid)
        assert target.pid == app.pid
        assert target.netns != procfs.netns_of("/proc", monitor.pid)
    finally:
        for proc in (app, monitor):
            proc.kill()
            proc.wait(timeout=10)
        conmon.remove()
        container.remove()
