"""Norm-proof benchmark: prove and verify a random update of norm exactly B.

One core by default; `--threads T` runs prove and verify on T worker threads pinned
to T cores.

Builds an integer update m with ‖m‖_2 = B exactly (B = floor(τ·scale)), encrypts it
on the chosen parameter set, then proves and verifies `--repeat` times and reports
medians, sizes, the mean number of rejection-sampling restarts and whether every
honest proof verified. Peak memory is the process's max RSS (Linux, MiB).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import time
from typing import Any

import numpy as np

__all__ = ["add_arguments", "measure", "run", "exact_norm_update"]

KEYS = ("dim", "prove_s", "verify_s", "proof_bytes", "ciphertext_bytes", "bytes_per_param",
        "ciphertext_bytes_per_param", "sigma_repetitions", "threads", "repetitions",
        "accepted")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dim", type=int, default=1 << 17, help="update length d")
    parser.add_argument("--repeat", type=int, default=5, help="proofs to time (median)")
    parser.add_argument("--params", default="zkflpq-bfv3-n4096-q81-t34-l8",
                        help="BFV parameter-set name (default: the 128-bit default)")
    parser.add_argument("--tau", type=float, default=5.0)
    parser.add_argument("--scale", type=float, default=float(1 << 14))
    parser.add_argument("--threads", type=int, default=1,
                        help="worker threads for prove and verify, pinned to as many cores "
                             "(default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def exact_norm_update(d: int, bound: int, n: int, seed: int = 0) -> np.ndarray:
    """Integer chunks (ceil(d/n), n) with ‖m‖² = B² exactly (public test data)."""
    rng = np.random.default_rng(seed)  # public benchmark input, not a secret
    k = -(-d // n)
    flat = np.zeros(k * n, dtype=np.int64)
    x = rng.normal(size=d)
    x *= (bound * 0.999) / np.linalg.norm(x)
    flat[:d] = np.trunc(x).astype(np.int64)
    # Top up the first coordinates so the squared norm hits B² exactly.
    deficit = bound * bound - int(np.dot(flat, flat))
    i = 0
    while deficit > 0:
        v = int(flat[i])
        step = math.isqrt(v * v + deficit) - abs(v)
        if step > 0:
            new = abs(v) + step
            deficit -= new * new - v * v
            flat[i] = new if v >= 0 else -new
        i += 1
    if deficit != 0:  # greedy could leave a remainder below 2|v|+1; fix with unit steps
        raise RuntimeError("could not hit the norm exactly")
    return flat.reshape(k, n)


def measure(dim: int, repeat: int = 5, params_name: str = "zkflpq-bfv3-n4096-q81-t34-l8",
            tau: float = 5.0, scale: float = float(1 << 14), threads: int = 1
            ) -> dict[str, Any]:
    from ..bfv import encrypt_with_randomness, get_params, keygen, norm_bound
    from ..bfv.codec import ciphertext_size
    from ..zk import NormStatement, proof_context, prove, verify
    from ..zk import protocol as proto
    from ..zk.challenge import Challenge

    params = get_params(params_name)
    bound = norm_bound(tau, scale)
    _, pk = keygen(params)
    m = exact_norm_update(dim, bound, params.n)
    assert int((m * m).sum()) == bound * bound
    ctx = proof_context("bench", "bench-aggregator", 1, "bench-client")

    # Count restarts by wrapping the rejection step (measurement only).
    calls = {"n": 0, "accepted": 0}
    original = proto._accept

    def counting(*a: Any, **kw: Any) -> bool:
        ok = original(*a, **kw)
        calls["n"] += 1
        calls["accepted"] += int(ok)
        return ok

    prove_t, verify_t, accepted, sizes, challenges = [], [], [], [], []
    ct, rand = encrypt_with_randomness(pk, m)
    st = NormStatement(params, pk, ct, bound, ctx)
    proto._accept = counting
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            proof = prove(st, m, rand, threads=threads)
            prove_t.append(time.perf_counter() - t0)
            data = proof.to_bytes()
            sizes.append(len(data))
            # Σ-repetitions = challenges the proof carries (v3: one Challenge object).
            challenges.append(1 if isinstance(proof.c, Challenge) else len(proof.c))
            t0 = time.perf_counter()
            verdict = verify(st, data, threads=threads)
            verify_t.append(time.perf_counter() - t0)
            accepted.append(verdict.accepted)
    finally:
        proto._accept = original
    proof_bytes = int(statistics.median(sizes))
    return {
        "dim": dim,
        "chunks": len(ct),
        "params": params.name,
        "bound": bound,
        "prove_s": statistics.median(prove_t),
        "verify_s": statistics.median(verify_t),
        "proof_bytes": proof_bytes,
        "ciphertext_bytes": ciphertext_size(params, len(ct)),
        "bytes_per_param": proof_bytes / dim,
        "ciphertext_bytes_per_param": ciphertext_size(params, len(ct)) / dim,
        "sigma_repetitions": max(challenges),
        "threads": threads,
        # Each proof runs two rejection loops (JL, Σ); restarts = rejected attempts.
        "repetitions": (calls["n"] - calls["accepted"]) / max(1, repeat),
        "accepted": all(accepted),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run(args: argparse.Namespace) -> int:
    from . import machine_info, pin_to_cores

    if args.dim < 1 or args.repeat < 1 or not 1 <= args.threads <= 64:
        raise SystemExit("--dim and --repeat must be positive, --threads in 1..64")
    with pin_to_cores(args.threads) as cpu:
        # warm-up (JIT)
        measure(min(args.dim, 4096), 1, args.params, args.tau, args.scale, args.threads)
        res = measure(args.dim, args.repeat, args.params, args.tau, args.scale, args.threads)
        res["machine"] = machine_info(cpu)
        res["machine"]["cores"] = len(os.sched_getaffinity(0)) if hasattr(
            os, "sched_getaffinity") else None
    if args.json:
        print(json.dumps(res, sort_keys=True))
    else:
        for key in (*KEYS, "chunks", "peak_rss_mib"):
            print(f"{key:18s} {res[key]}")
    return 0 if res["accepted"] else 1
