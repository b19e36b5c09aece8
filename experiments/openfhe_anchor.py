"""Optional OpenFHE anchor: BFV at N = 4096 in a separate Python 3.10 environment.

OpenFHE's Python wheels exist for CPython 3.10 (or need Ubuntu 24.04's libstdc++),
so this project (Python 3.11) cannot import it. This script looks for an interpreter
that can: ``--python PATH`` / ``ZKFLPQ_OPENFHE_PYTHON``, else ``python3.10`` on PATH.
If it finds one that imports ``openfhe`` it runs the benchmark below in it and
records the numbers; otherwise it records *why* it did not run. It never invents a
number.

    python -m experiments.openfhe_anchor [--python /path/to/py310/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .common import DEFAULT_OUT, machine_info, write_json

__all__ = ["BENCH_SCRIPT", "find_python", "probe", "run", "main"]

BENCH_SCRIPT = r"""
import json, time, statistics
import openfhe as o
p = o.CCParamsBFVRNS()
p.SetPlaintextModulus(65537)
p.SetRingDim(4096)
p.SetMultiplicativeDepth(1)
p.SetSecurityLevel(o.SecurityLevel.HEStd_128_classic)
cc = o.GenCryptoContext(p)
cc.Enable(o.PKESchemeFeature.PKE)
cc.Enable(o.PKESchemeFeature.LEVELEDSHE)
kp = cc.KeyGen()
pt = cc.MakePackedPlaintext(list(range(4096)))
def med(f, r=31):
    ts = []
    for _ in range(r):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)
a = cc.Encrypt(kp.publicKey, pt); b = cc.Encrypt(kp.publicKey, pt)
print(json.dumps({
  "version": getattr(o, "__version__", None),
  "ring_dim": cc.GetRingDimension(),
  "encrypt_ms": med(lambda: cc.Encrypt(kp.publicKey, pt)) * 1e3,
  "add_ms": med(lambda: cc.EvalAdd(a, b)) * 1e3,
  "decrypt_ms": med(lambda: cc.Decrypt(kp.secretKey, a)) * 1e3,
}))
"""


def find_python(explicit: str | None = None) -> tuple[str | None, str]:
    """An interpreter path that can import openfhe, and a human-readable reason."""
    pyenv = sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.10*/bin/python3.10"))
    which = shutil.which("python3.10")
    if which and "/shims/" in which:
        which = None  # a pyenv shim for a version that is not selected: use the real path
    candidates = list(dict.fromkeys(
        c for c in (explicit, os.environ.get("ZKFLPQ_OPENFHE_PYTHON"), which, *pyenv) if c))
    if not candidates:
        return None, "no Python 3.10 interpreter found (python3.10 not on PATH, " \
                     "ZKFLPQ_OPENFHE_PYTHON unset)"
    reasons = []
    for c in candidates:
        try:
            r = subprocess.run([c, "-c", "import openfhe"], capture_output=True, text=True,
                               timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            reasons.append(f"{c}: {exc}")
            continue
        if r.returncode == 0:
            return c, "ok"
        last = (r.stderr.strip().splitlines() or ["?"])[-1][:200]
        reasons.append(f"{c}: cannot import openfhe ({last})")
    return None, "; ".join(reasons)


def probe(explicit: str | None = None) -> dict[str, Any]:
    py, reason = find_python(explicit)
    if py is None:
        return {"status": "not run", "reason": reason, "results": None}
    r = subprocess.run([py, "-c", BENCH_SCRIPT], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        return {"status": "failed", "reason": r.stderr.strip()[-500:], "python": py,
                "results": None}
    return {"status": "measured", "reason": "ok", "python": py,
            "results": json.loads(r.stdout.strip().splitlines()[-1])}


def run(out: Path, explicit: str | None = None) -> dict[str, Any]:
    res = {**probe(explicit), "machine": machine_info(),
           "command": "python -m experiments.openfhe_anchor"}
    write_json(Path(out) / "openfhe.json", res)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=None, help="Python 3.10 interpreter with openfhe")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT / "anchors")
    a = ap.parse_args(argv)
    res = run(a.out, a.python)
    print(json.dumps({k: v for k, v in res.items() if k != "machine"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
