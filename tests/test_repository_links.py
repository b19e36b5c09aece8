"""Every relative link in the repository's Markdown points at a file that ships with it.

Users clone only this repository, so a document may link only to paths inside it: a
relative Markdown link ``[text](target)`` (or ``![alt](target)``, or a reference
definition ``[label]: target``) must resolve to an existing file or directory under the
repository root. ``http(s)://`` and ``mailto:`` links and pure ``#anchors`` are not
checked; any other scheme (``file:`` …) is refused. Links inside code blocks and code
spans are ignored.

No tracked text file (``*.md``, ``*.py``, ``*.toml``) may refer to design documents kept
outside the repository.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Built by concatenation so that this file does not contain them itself.
FORBIDDEN = ("shared" + "/spec", ".." + "/shared")

_SKIP_DIRS = {"node_modules", "venv", "build", "dist", "__pycache__"}

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# [text](target "title") — text may hold one level of brackets (e.g. an image).
_INLINE = re.compile(
    r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>\n]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
_REFDEF = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:[ \t]*(<[^>\n]*>|\S+)", re.M)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_EXTERNAL = ("http://", "https://", "mailto:")


def repo_files(root: Path, *patterns: str) -> list[Path]:
    """Files of the repository matching the glob patterns: ``git ls-files`` (tracked, and
    untracked files that are not ignored, so new documents are checked before their
    commit), else a walk of the tree without hidden and build directories."""
    if shutil.which("git") is not None:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
             *patterns],
            cwd=root, capture_output=True, timeout=60)
        if proc.returncode == 0:
            names = sorted({n for n in proc.stdout.decode("utf-8", "surrogateescape")
                            .split("\0") if n})
            return [root / n for n in names if (root / n).is_file()]
    found: set[Path] = set()
    for pattern in patterns:
        for p in root.rglob(pattern):
            rel = p.relative_to(root).parts
            if any(part.startswith(".") or part in _SKIP_DIRS or part.endswith(".egg-info")
                   for part in rel[:-1]):
                continue
            if p.is_file():
                found.add(p)
    return sorted(found)


def _strip_code(text: str) -> str:
    """Drop fenced code blocks and blank out code spans (links there are not links)."""
    out: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        m = _FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group(1)
                continue
            out.append(line)
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                and not line.strip()[len(m.group(1)):].strip():
            fence = None
    return _CODE_SPAN.sub(lambda m: "x" * len(m.group(0)), "\n".join(out))


def markdown_links(text: str) -> list[str]:
    """Targets of the inline links, images and reference definitions outside code."""
    body = _strip_code(text)
    targets = [m.group(1) for m in _INLINE.finditer(body)]
    targets += [m.group(1) for m in _REFDEF.finditer(body)]
    return [t[1:-1] if t.startswith("<") and t.endswith(">") else t for t in targets]


def check_link(md_file: Path, target: str, root: Path) -> str | None:
    """None if ``target`` (a link in ``md_file``) is fine, else what is wrong with it."""
    if target.startswith("#") or target.lower().startswith(_EXTERNAL):
        return None
    if _SCHEME.match(target):
        return "not a path inside the repository"
    path = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if not path:
        return "empty link"
    root = root.resolve()
    base = root if path.startswith("/") else md_file.resolve().parent
    resolved = (base / path.lstrip("/")).resolve()
    if not resolved.is_relative_to(root):
        return "points outside the repository"
    if not resolved.exists():
        return "no such file"
    return None


def broken_links(md_file: Path, root: Path) -> list[str]:
    """``"target: problem"`` for every bad relative link of one Markdown file."""
    problems = []
    for target in markdown_links(md_file.read_text(encoding="utf-8")):
        why = check_link(md_file, target, root)
        if why is not None:
            problems.append(f"{target}: {why}")
    return problems


def forbidden_references(text: str) -> list[str]:
    return [s for s in FORBIDDEN if s in text]


MARKDOWN = repo_files(ROOT, "*.md")
TEXT_FILES = repo_files(ROOT, "*.md", "*.py", "*.toml")


def _rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def test_the_scan_sees_the_documents() -> None:
    names = {_rel(p) for p in MARKDOWN}
    assert "README.md" in names
    assert any(n.endswith(".py") for n in map(_rel, TEXT_FILES))


@pytest.mark.parametrize("md_file", MARKDOWN, ids=_rel)
def test_relative_links_resolve_inside_the_repository(md_file: Path) -> None:
    assert broken_links(md_file, ROOT) == []


def test_no_reference_to_documents_outside_the_repository() -> None:
    hits = []
    for p in TEXT_FILES:
        found = forbidden_references(p.read_text(encoding="utf-8", errors="replace"))
        hits += [f"{_rel(p)}: {s}" for s in found]
    assert hits == []


# -- the checkers themselves fail on bad input ----------------------------------------------
def test_checker_reports_bad_links(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "proofs").mkdir()
    (repo / "proofs" / "protocol.md").write_text("# p\n")
    (repo / "README.md").write_text("# r\n")
    (tmp_path / "outside.md").write_text("# o\n")
    doc = repo / "docs" / "design.md"
    doc.write_text("\n".join([
        "[ok](../proofs/protocol.md) [ok dir](../proofs/) [ok frag](../README.md#r)",
        "[ok root](/proofs/protocol.md) ![ok img](../README.md \"title\")",
        "[`code text`](../proofs/protocol.md) [anchor](#top) [web](https://example.org/x)",
        "[mail](mailto:a@example.org) [plain http](http://example.org)",
        "[missing](../proofs/nope.md)",
        "[missing img]: ../img/none.png",
        "![gone](figure.png) [escape](../../outside.md) [abs](/work/elsewhere.md)",
        "[file](file:///etc/passwd) [empty]()",
        "`[in span](not-checked.md)`",
        "```",
        "[in fence](also-not-checked.md)",
        "```",
    ]) + "\n")
    assert sorted(broken_links(doc, repo)) == sorted([
        "../proofs/nope.md: no such file",
        "../img/none.png: no such file",
        "figure.png: no such file",
        "../../outside.md: points outside the repository",
        "/work/elsewhere.md: no such file",
        "file:///etc/passwd: not a path inside the repository",
        ": empty link",
    ])


def test_checker_reports_outside_references() -> None:
    assert forbidden_references("see /work/" + FORBIDDEN[0] + "/service.md") == [FORBIDDEN[0]]
    assert forbidden_references("[s](" + FORBIDDEN[1] + "/x.md)") == [FORBIDDEN[1]]
    assert forbidden_references("nothing to see") == []


def test_repo_files_without_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.md").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.md").write_text("x")
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    assert [p.relative_to(tmp_path).as_posix() for p in repo_files(tmp_path, "*.md")] == [
        "a.md", "sub/b.md"]
