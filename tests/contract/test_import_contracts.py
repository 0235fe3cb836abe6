"""The import contracts in .importlinter hold the architecture only if they can break: plant a bad import of each
kind in a copy of the package (a new fault kind among them, so the contracts cover modules that did not exist
when they were written) and check that lint-imports names every contract broken. And every module of the package
sits in a layer of the layers contract."""

from __future__ import annotations

import configparser
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chaos_operator"
CONFIG = configparser.ConfigParser()
CONFIG.read(ROOT / ".importlinter")

# (file in the copy, line appended, the contract it must break)
PLANTS = [
    ("faults/kinds/network_loss.py", "import chaos_operator.faults.kinds.pod_kill", "faults-independent"),
    ("faults/kinds/brand_new.py", "import chaos_operator.faults.kinds.network_latency", "faults-independent"),
    ("engine/runner.py", "import chaos_operator.faults.helpers.pod", "engine-sees-fault-protocols"),
    ("faults/helpers/network.py", "import chaos_operator.faults.kinds.cpu_stress", "helpers-below-kinds"),
    ("models/spec.py", "import chaos_operator.engine.recorder", "layers"),
    ("agent/tc.py", "import chaos_operator.faults.base", "agent-stands-alone"),
    ("engine/recorder.py", "import kopf", "kopf-adapter"),
    ("engine/targets.py", "import kubernetes", "kubernetes-adapter"),
    ("analysis/score.py", "import aiohttp", "aiohttp-adapter"),
    ("engine/prom.py", "import prometheus_api_client", "prometheus-adapter"),
    ("runtime/operator.py", "import chaos_sandbox", "no-sandbox"),
]


def contract_name(key: str) -> str:
    return " ".join(CONFIG[f"importlinter:contract:{key}"]["name"].split())


def test_every_contract_breaks_on_a_planted_import(tmp_path: pathlib.Path) -> None:
    shutil.copytree(PACKAGE, tmp_path / "chaos_operator", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    for relative, line, _ in PLANTS:
        path = tmp_path / "chaos_operator" / relative
        text = path.read_text() if path.exists() else '"""A fault kind added after the contracts were written."""\n'
        path.write_text(text + f"\n{line}  # noqa\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    lint = pathlib.Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    out = " ".join(done.stdout.split())
    assert done.returncode != 0, out[-2000:]
    for _, _, key in PLANTS:
        assert f"{contract_name(key)} BROKEN" in out, f"{key} did not break: {out[-3000:]}"


def test_every_module_of_the_package_is_in_a_layer() -> None:
    layers = {name.strip() for line in CONFIG["importlinter:contract:layers"]["layers"].split("\n")
              for name in line.split("|") if name.strip()}
    top = {f"chaos_operator.{p.stem}" for p in PACKAGE.iterdir()
           if (p.suffix == ".py" and p.stem not in ("__init__", "__main__")) or (p / "__init__.py").is_file()}
    assert top == layers, f"outside the layers: {sorted(top - layers)}; named but missing: {sorted(layers - top)}"
