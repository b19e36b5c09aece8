"""`zkflpq demo --json` as a subprocess (small and INSECURE, so it is quick): real service
processes with the default verification process pool, the poisoner rejected by proof
verification, no honest rejection, exit 0."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(300)


def test_demo_json_small() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "zkflpq.cli", "demo", "--json", "--params",
         "INSECURE-bfv3-n64-q81-t34-l3", "--hidden", "8", "--samples", "200", "--rounds", "2",
         "--malicious-from", "2", "--epochs", "1"],
        capture_output=True, text=True, timeout=280)
    assert out.returncode == 0, out.stderr[-3000:]
    doc = json.loads(out.stdout)
    assert [r["round"] for r in doc["rounds"]] == [1, 2]
    assert doc["poisoned_rejected"] is True and doc["honest_rejected"] == 0
    assert doc["poisoned_reasons"] == {"proof_invalid": 1}
    assert [r["accepted"] for r in doc["rounds"]] == [5, 4]
    assert doc["rounds"][1]["rejected"] == {"proof_invalid": 1}
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in doc["rounds"])
