import ast
import subprocess
import sys
from pathlib import Path

import zkflpq.fl as fl

REPO = Path(__file__).resolve().parents[2]
FL_DIR = REPO / "zkflpq" / "fl"
CRYPTO = ("zkflpq.ring", "zkflpq.bfv", "zkflpq.zk", "zkflpq.pq")


def test_every_exported_name_resolves():
    for name in fl.__all__:
        assert getattr(fl, name) is not None, name


def test_fl_never_imports_the_crypto_layers():
    for path in sorted(FL_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: must stay inside zkflpq.fl
                    assert node.level == 1, f"{path.name} imports outside zkflpq.fl"
                    continue
                names = [node.module or ""]
            else:
                continue
            for n in names:
                assert not n.startswith(CRYPTO), f"{path.name} imports {n}"


def test_data_module_does_not_pull_in_torch():
    code = "import sys, zkflpq.fl.data; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "False"
