import subprocess
import sys
from pathlib import Path

import zkflpq.fl as fl

REPO = Path(__file__).resolve().parents[2]


def test_every_exported_name_resolves():
    for name in fl.__all__:
        assert getattr(fl, name) is not None, name


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    return out.stdout.strip()


def test_layering_no_crypto_imports_and_lazy_torch():
    code = (
        "import sys, zkflpq.fl.data as d; t = 'torch' in sys.modules;"
        "import zkflpq.fl as fl; [getattr(fl, n) for n in fl.__all__];"
        "bad = [m for m in sys.modules if m.split('.')[:2] in"
        " (['zkflpq','ring'],['zkflpq','bfv'],['zkflpq','zk'],['zkflpq','pq'])];"
        "print(t, bad)"
    )
    assert _run(code) == "False []"
