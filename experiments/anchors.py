"""Part B6: outside anchors for the BFV layer, measured in the same run.

zkflpq's BFV (DEFAULT: N = 4096, log2 q ≈ 90, t = 2^32; pure numpy/numba) next to
TenSEAL's BFV (Microsoft SEAL underneath; N = 4096, SEAL's default 109-bit q,
t = 1032193, batching), both on one core: encryption, addition and decryption of one
N = 4096 ciphertext, serialised ciphertext size, and the same extrapolated to one
update of the paper's model (108,996 parameters = 27 ciphertexts at N = 4096).
The two are not the same parameter set (q, t and encoding differ); the comparison
places our implementation's speed, it does not rank schemes.

OpenFHE: see :mod:`experiments.openfhe_anchor` (separate Python 3.10 environment).

    python -m experiments.anchors              # → paper_results/anchors/results.json
    python -m experiments.anchors --quick --out /tmp/x

``--quick`` (5 samples instead of 51) is a smoke test: ``"smoke_test": true`` in
``results.json``, and the table and the printed summary say so.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .common import (
    DEFAULT_OUT,
    SMOKE_LABEL,
    add_common_args,
    machine_info,
    smoke_banner,
    write_json,
)

__all__ = ["measure_tenseal", "run", "main"]

PAPER_D = 108_996


def measure_tenseal(repeat: int) -> dict[str, Any]:
    """TenSEAL BFV at N = 4096 (one thread); raises ImportError if not installed."""
    import tenseal as ts

    from zkflpq.benchmarks import median_time

    ctx = ts.context(ts.SCHEME_TYPE.BFV, poly_modulus_degree=4096, plain_modulus=1032193,
                     n_threads=1)
    values = list(range(4096))
    a = ts.bfv_vector(ctx, values)
    b = ts.bfv_vector(ctx, values)
    if (a + b).decrypt()[:3] != [0, 2, 4]:
        raise RuntimeError("TenSEAL round trip failed")
    return {
        "version": ts.__version__,
        "params": "BFV N=4096, SEAL default coeff modulus (109-bit), t=1032193, batching",
        "encrypt_ms": median_time(lambda: ts.bfv_vector(ctx, values), repeat) * 1e3,
        "add_ms": median_time(lambda: a + b, repeat) * 1e3,
        "decrypt_ms": median_time(lambda: a.decrypt(), repeat) * 1e3,
        "ciphertext_bytes": len(a.serialize()),
    }


def run(quick: bool, out: Path, *, log=print) -> dict[str, Any]:
    from zkflpq.benchmarks import pin_to_one_core
    from zkflpq.benchmarks.bfv import measure

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    repeat = 5 if quick else 51
    if quick:
        log(f"[anchors] {SMOKE_LABEL}")
    with pin_to_one_core():
        ours = measure(repeat, tenseal=False)
        try:
            tenseal: dict[str, Any] | None = measure_tenseal(repeat)
            tenseal_status = "measured"
        except ImportError as exc:
            tenseal, tenseal_status = None, f"not installed ({exc})"
    chunks = -(-PAPER_D // 4096)
    per_update = {
        "chunks": chunks,
        "zkflpq_encrypt_s": ours["encrypt_ms"] * chunks / 1e3,
        "zkflpq_add_ms": ours["add_ms"] * chunks,
        "zkflpq_decrypt_s": ours["decrypt_ms"] * chunks / 1e3,
        "zkflpq_ciphertext_bytes": ours["ciphertext_bytes"] * chunks,
    }
    if tenseal:
        # TenSEAL packs 4096 slots per ciphertext as well (batching)
        per_update.update({
            "tenseal_encrypt_s": tenseal["encrypt_ms"] * chunks / 1e3,
            "tenseal_add_ms": tenseal["add_ms"] * chunks,
            "tenseal_decrypt_s": tenseal["decrypt_ms"] * chunks / 1e3,
            "tenseal_ciphertext_bytes": tenseal["ciphertext_bytes"] * chunks,
        })
    from .openfhe_anchor import probe

    openfhe = probe()
    results = {
        "mode": "quick" if quick else "full",
        "smoke_test": quick,
        "repeat": repeat,
        "zkflpq_bfv": {k: ours[k] for k in ("params", "ntt_us", "encrypt_ms", "add_ms",
                                            "decrypt_ms", "ciphertext_bytes", "exact")},
        "tenseal_status": tenseal_status,
        "tenseal_bfv": tenseal,
        "per_paper_update": per_update,
        "openfhe": openfhe,
        "note": "one core (pinned); medians. Different parameter sets: zkflpq log2 q ≈ 90, "
                "t = 2^32, coefficient encoding; TenSEAL/SEAL log2 q = 109, t = 1032193, "
                "slot (batching) encoding.",
        "machine": machine_info(),
        "elapsed_s": time.perf_counter() - t0,
        "command": "python -m experiments.anchors" + (" --quick" if quick else ""),
    }
    write_json(out / "results.json", results)
    (out / "table.md").write_text(table_markdown(results))
    log(f"[anchors] wrote {out}/results.json ({results['elapsed_s']:.1f} s)"
        + (f" — {SMOKE_LABEL}" if quick else ""))
    return results


def table_markdown(r: dict[str, Any]) -> str:
    o, t = r["zkflpq_bfv"], r["tenseal_bfv"]

    def f(x: Any, d: int = 3) -> str:
        return "n/a" if x is None else f"{x:.{d}f}"

    smoke = bool(r.get("smoke_test"))
    lines = [*([smoke_banner(smoke).rstrip("\n"), ""] if smoke else []),
             "| BFV, N = 4096, one core | zkflpq (ours) | TenSEAL " +
             (t["version"] if t else "") + " |", "|---|---|---|"]
    for key, label in (("encrypt_ms", "encrypt one ciphertext (ms)"),
                       ("add_ms", "add two ciphertexts (ms)"),
                       ("decrypt_ms", "decrypt one ciphertext (ms)")):
        lines.append(f"| {label} | {f(o[key])} | {f(t[key]) if t else r['tenseal_status']} |")
    lines.append(f"| ciphertext bytes | {o['ciphertext_bytes']:,} | "
                 f"{t['ciphertext_bytes']:,} |" if t else
                 f"| ciphertext bytes | {o['ciphertext_bytes']:,} | n/a |")
    p = r["per_paper_update"]
    lines.append(f"| one 108,996-parameter update ({p['chunks']} ciphertexts): encrypt (s) | "
                 f"{f(p['zkflpq_encrypt_s'])} | {f(p.get('tenseal_encrypt_s'))} |")
    lines.append(f"| OpenFHE | – | {r['openfhe']['status']}: {r['openfhe']['reason']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap, DEFAULT_OUT / "anchors")
    a = ap.parse_args(argv)
    print(table_markdown(run(a.quick, a.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
