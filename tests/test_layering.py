"""Layers stack one way: ring → bfv → zk; pq alone; protocol, agent, fl on top; services
import zkflpq, never the reverse. Only the command line, the demo and the service
benchmark (which start the services) may import ``services``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "zkflpq"

# What each library layer must not import (absolute module prefixes).
FORBIDDEN = {
    "ring": ("zkflpq.bfv", "zkflpq.zk", "zkflpq.pq", "zkflpq.fl", "zkflpq.agent",
             "zkflpq.protocol", "zkflpq.zkbridge", "services"),
    "bfv": ("zkflpq.zk", "zkflpq.pq", "zkflpq.fl", "zkflpq.agent", "zkflpq.protocol",
            "zkflpq.zkbridge", "services"),
    "zk": ("zkflpq.pq", "zkflpq.fl", "zkflpq.agent", "zkflpq.protocol", "zkflpq.zkbridge",
           "services"),
    "pq": ("zkflpq.bfv", "zkflpq.zk", "zkflpq.fl", "zkflpq.agent", "zkflpq.protocol",
           "zkflpq.zkbridge", "services"),
    "protocol.py": ("zkflpq.agent", "zkflpq.fl", "services"),
    "zkbridge.py": ("zkflpq.agent", "zkflpq.fl", "services"),
    "agent": ("services",),
    "client_pipeline.py": ("zkflpq.agent", "zkflpq.flower", "services"),
    # The key-authority implementations that run the service are services.flower.
    "flower": ("services",),
    "fl": ("services",),
}


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    parts = package.split(".")
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            mod = ".".join([*base, node.module] if node.module else base)
            names.add(mod)
            names.update(f"{mod}.{a.name}" for a in node.names)
    return names


def _violations(layer: str) -> list[str]:
    target = PKG / layer
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    bad = []
    for f in files:
        rel = f.relative_to(PKG.parent).with_suffix("")
        package = ".".join(rel.parts[:-1])
        for name in imported_modules(f, package):
            if any(name == p or name.startswith(p + ".") for p in FORBIDDEN[layer]):
                bad.append(f"{f.relative_to(PKG.parent)} imports {name}")
    return bad


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_below_it(layer: str) -> None:
    assert _violations(layer) == []


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    # The check itself can fail: a relative import of the services package is caught.
    f = tmp_path / "m.py"
    f.write_text("from ..protocol import seal\nfrom services.common import http\n")
    names = imported_modules(f, "zkflpq.agent")
    assert {"zkflpq.protocol", "zkflpq.protocol.seal", "services.common.http"} <= names
