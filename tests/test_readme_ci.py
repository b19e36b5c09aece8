"""The README's test command is exactly what `.ci/run` runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    step = re.search(r"2\. Install and run the tests:\s*```\s*\n(.*?)\n\s*```", readme, re.S)
    assert step, "README quick start lost its step 2"
    return step.group(1).strip().split(" && ")[-1]


def _ci_test_command() -> str:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return commands[-1]


def test_ci_runs_the_readme_test_command() -> None:
    assert _ci_test_command() == _readme_test_command()


def test_test_command_starts_from_an_empty_numba_cache() -> None:
    assert _readme_test_command().startswith("NUMBA_CACHE_DIR=$(mktemp -d) ")
