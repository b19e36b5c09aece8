"""Fixtures for the experiment-harness tests: each script's ``--quick`` mode runs once
per session (as a subprocess, through its CLI) into a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # make `import experiments` work under plain `pytest`
    sys.path.insert(0, str(ROOT))


def run_quick(module: str, out: Path, *extra: str, timeout: int = 240) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", f"experiments.{module}", "--quick", "--out", str(out), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, f"{module} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    # what the script printed, next to its output directory (the smoke-label tests read it)
    out.with_name(out.name + ".stdout.txt").write_text(proc.stdout)
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="session")
def quick_out(tmp_path_factory):
    return tmp_path_factory.mktemp("paper_results_quick")


@pytest.fixture(scope="session")
def reproduction(quick_out):
    return run_quick("reproduce_paper", quick_out / "reproduction")


@pytest.fixture(scope="session")
def attacks(quick_out):
    return run_quick("attack_matrix", quick_out / "attacks")


@pytest.fixture(scope="session")
def overhead(quick_out):
    return run_quick("overhead", quick_out / "overhead")


@pytest.fixture(scope="session")
def scaling(quick_out):
    return run_quick("scaling", quick_out / "scaling")


@pytest.fixture(scope="session")
def real_data(quick_out):
    return run_quick("real_data", quick_out / "real_data")


@pytest.fixture(scope="session")
def anchors(quick_out):
    return run_quick("anchors", quick_out / "anchors")
