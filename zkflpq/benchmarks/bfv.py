"""BFV micro-benchmarks on the default parameter set, pinned to one core.

Reports medians: one N = 4096 NTT modulo one auxiliary prime (the exact products of
zkflpq.ring.exact run on these), encryption / addition / decryption of one chunk and of
one full group of L' chunks, the encoded size of one chunk and per parameter for a full
group, whether the sum of 1024 encryptions
of maximal plaintexts decrypts exactly, and TenSEAL's BFV encryption of one N = 4096
vector (when tenseal is importable) as an outside reference point.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

__all__ = ["add_arguments", "measure", "run"]

KEYS = ("ntt_us", "encrypt_ms", "add_ms", "decrypt_ms", "ciphertext_bytes",
        "encrypt_group_ms", "decrypt_group_ms", "ciphertext_bytes_per_param", "exact",
        "tenseal_encrypt_ms")
TARGETS = {"ntt_us": 40.0, "encrypt_ms": 2.0, "add_ms": 0.05, "decrypt_ms": 1.0}
CLIENTS = 1024
DISTINCT = 8  # distinct maximal encryptions, reused CLIENTS/DISTINCT times each


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=51,
                        help="timed samples per metric; the median is reported (default 51)")
    parser.add_argument("--no-tenseal", action="store_true",
                        help="skip the TenSEAL comparison even if tenseal is installed")


def _exact_1024_sum(sk: Any, pk: Any) -> tuple[bool, float]:
    """Sum of 1024 encryptions of plaintexts with coefficients ±floor((t/2−1)/1024)."""
    import numpy as np

    from ..bfv import decrypt, encrypt, sum_ciphertexts

    params = pk.params
    bmax = (params.t // 2 - 1) // CLIENTS
    rng = np.random.default_rng()
    ms = [np.where(rng.integers(0, 2, (1, params.n)) == 1, bmax, -bmax).astype(np.int64)
          for _ in range(DISTINCT)]
    ms[0][0] = bmax
    ms[1][0] = bmax  # first coordinates add up to the extreme ±1024·bmax-ish values
    cts = [encrypt(pk, m) for m in ms]
    start = time.perf_counter()
    agg = sum_ciphertexts(cts[i % DISTINCT] for i in range(CLIENTS))
    sum_s = time.perf_counter() - start
    expected = sum(ms) * (CLIENTS // DISTINCT)
    return bool(np.array_equal(decrypt(sk, agg), expected)), sum_s


def _tenseal(repeat: int) -> dict[str, float | None]:
    try:
        import tenseal as ts
    except Exception:
        return {"tenseal_encrypt_ms": None, "tenseal_add_ms": None}
    from . import median_time

    # SEAL's default 109-bit q for N = 4096 and a batching-friendly 20-bit t.
    ctx = ts.context(ts.SCHEME_TYPE.BFV, poly_modulus_degree=4096, plain_modulus=1032193,
                     n_threads=1)
    values = list(range(4096))
    a = ts.bfv_vector(ctx, values)
    b = ts.bfv_vector(ctx, values)
    return {
        "tenseal_encrypt_ms": median_time(lambda: ts.bfv_vector(ctx, values), repeat) * 1e3,
        "tenseal_add_ms": median_time(lambda: a + b, repeat) * 1e3,
    }


def measure(repeat: int = 51, tenseal: bool = True) -> dict[str, Any]:
    """Run every measurement (caller should pin to one core) and return the figures."""
    import numpy as np

    from ..bfv import (
        DEFAULT,
        add,
        decrypt,
        encode_ciphertexts,
        encrypt,
        keygen,
        sum_ciphertexts,
    )
    from ..bfv.scheme import products_of
    from ..ring import Csprng, NttTables, ntt_forward
    from . import median_time

    params = DEFAULT
    n = params.n
    aux = products_of(params).aux_primes
    tables = NttTables.build(n, aux[:1])
    rng = np.random.default_rng(1)
    poly = rng.integers(0, aux[0], (1, n), dtype=np.int64)
    sk, pk = keygen(params)
    m = rng.integers(-(params.t // 2) + 1, params.t // 2, (1, n), dtype=np.int64)
    csprng = Csprng()
    ct = encrypt(pk, m, csprng)
    ct2 = encrypt(pk, m, csprng)
    group = np.repeat(m, params.components, axis=0)  # one full group of L' chunks
    ct_group = encrypt(pk, group, csprng)

    # warm-up: numba compilation / cache load and cached NTT forms
    for _ in range(3):
        ntt_forward(poly, tables)
        decrypt(sk, add(ct, ct2))
        encrypt(pk, m, csprng)
        sum_ciphertexts([ct, ct2])
    if not np.array_equal(decrypt(sk, ct), m):
        raise RuntimeError("BFV round trip failed")

    out: dict[str, Any] = {
        "params": params.name,
        "ntt_us": median_time(lambda: ntt_forward(poly, tables), repeat, inner=20) * 1e6,
        "encrypt_ms": median_time(lambda: encrypt(pk, m, csprng), repeat) * 1e3,
        "add_ms": median_time(lambda: add(ct, ct2), repeat, inner=20) * 1e3,
        "decrypt_ms": median_time(lambda: decrypt(sk, ct), repeat) * 1e3,
        "ciphertext_bytes": len(encode_ciphertexts(ct)),
        "encrypt_group_ms": median_time(lambda: encrypt(pk, group, csprng), repeat) * 1e3,
        "decrypt_group_ms": median_time(lambda: decrypt(sk, ct_group), repeat) * 1e3,
        "ciphertext_bytes_per_param": len(encode_ciphertexts(ct_group)) / group.size,
        "components": params.components,
    }
    exact, sum_s = _exact_1024_sum(sk, pk)
    out["exact"] = exact
    out["sum_1024_ms"] = sum_s * 1e3
    if tenseal:
        out.update(_tenseal(repeat))
    else:
        out.update({"tenseal_encrypt_ms": None, "tenseal_add_ms": None})
    out["repeat"] = repeat
    return out


def _print_table(res: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def fmt(v: Any, digits: int = 3) -> str:
        return "n/a" if v is None else f"{v:.{digits}f}"

    table = Table(title=f"zkflpq bench bfv — {res['params']}, medians of {res['repeat']}, "
                        f"one core ({res['machine']['cpu']})")
    table.add_column("metric")
    table.add_column("measured", justify="right")
    table.add_column("target", justify="right")
    table.add_column("", justify="center")
    for key, label, digits in (("ntt_us", "NTT, N=4096, one auxiliary prime (µs)", 1),
                               ("encrypt_ms", "encrypt one chunk (ms)", 3),
                               ("add_ms", "add two one-chunk ciphertexts (ms)", 4),
                               ("decrypt_ms", "decrypt one chunk (ms)", 3)):
        target = TARGETS[key]
        ok = res[key] <= target
        table.add_row(label, fmt(res[key], digits), f"≤ {target:g}",
                      "[green]met[/]" if ok else "[red]missed[/]")
    table.add_row("ciphertext bytes (one chunk, encoded)", str(res["ciphertext_bytes"]), "", "")
    comps = res["components"]
    table.add_row(f"encrypt one group of {comps} chunks (ms)", fmt(res["encrypt_group_ms"]),
                  "", "")
    table.add_row(f"decrypt one group of {comps} chunks (ms)", fmt(res["decrypt_group_ms"]),
                  "", "")
    table.add_row("ciphertext bytes per parameter (full group)",
                  fmt(res["ciphertext_bytes_per_param"], 2), "≤ 12",
                  "[green]met[/]" if res["ciphertext_bytes_per_param"] <= 12 else "[red]missed[/]")
    table.add_row(f"sum of {CLIENTS} maximal encryptions exact", str(res["exact"]), "True",
                  "[green]met[/]" if res["exact"] else "[red]FAILED[/]")
    table.add_row(f"  ({CLIENTS} additions, ms)", fmt(res["sum_1024_ms"], 1), "", "")
    table.add_row("TenSEAL BFV N=4096 encrypt (ms)", fmt(res["tenseal_encrypt_ms"]), "", "")
    table.add_row("TenSEAL BFV N=4096 add (ms)", fmt(res.get("tenseal_add_ms")), "", "")
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from . import machine_info, pin_to_one_core

    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    with pin_to_one_core() as cpu:
        res = measure(args.repeat, tenseal=not args.no_tenseal)
        res["machine"] = machine_info(cpu)
    if args.json:
        print(json.dumps(res, sort_keys=True))
    else:
        _print_table(res)
    return 0 if res["exact"] else 1
