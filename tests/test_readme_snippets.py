"""Every ```python block in the README and docs/ runs as written, each in a fresh
interpreter (as a user pastes it), from an empty working directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(markdown: str) -> list[str]:
    return [m.group(1) for m in FENCE.finditer(markdown)]


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


SNIPPETS = [(doc, i, code) for doc in _documents()
            for i, code in enumerate(python_blocks(doc.read_text(encoding="utf-8")))]


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZKFLPQ_")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=600)


def test_the_readme_has_snippets() -> None:
    assert len([s for s in SNIPPETS if s[0].name == "README.md"]) >= 2


@pytest.mark.parametrize(("doc", "index", "code"), SNIPPETS,
                         ids=[f"{d.relative_to(ROOT)}#{i}" for d, i, _ in SNIPPETS])
def test_snippet_runs_as_written(doc: Path, index: int, code: str, tmp_path: Path) -> None:
    r = _run(code, tmp_path)
    assert r.returncode == 0, (f"{doc.relative_to(ROOT)} python block {index} failed:\n"
                               f"{r.stderr[-3000:]}")


def test_a_broken_snippet_is_caught(tmp_path: Path) -> None:
    # The check itself can fail: an undefined name (the README's old `update`) is caught.
    (code,) = python_blocks("text\n```python\nprint(update)\n```\nmore\n")
    r = _run(code, tmp_path)
    assert r.returncode != 0 and "NameError" in r.stderr
