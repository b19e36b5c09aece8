"""Part B5: scaling curves.

1. Prove / verify time, proof size and ciphertext size vs the update dimension d
   (2^12 … 2^20 on the DEFAULT BFV set, N = 4096: 1 … 256 ciphertexts). Sizes whose
   predicted cost exceeds the remaining time budget (``--budget-s``) are skipped and
   listed as such.
2. ZKFL-PQ round time vs number of clients (5 … 100), in-process, clients one after
   another, the paper's MLP (108,996 parameters), 200 training samples per client
   on average, one round per point (no attack), next to standard FL on the same data.
   A *modelled* round time with clients running concurrently (mean client-side cost
   + the sequential server-side cost) is reported too, labelled as a model.

    python -m experiments.scaling                 # full → paper_results/scaling/
    python -m experiments.scaling --quick --out /tmp/s

``--quick`` (INSECURE_N256, d = 2^8 … 2^12, 2 and 4 clients, tiny model) is a smoke
test: ``"smoke_test": true`` in ``results.json`` and every figure title says so.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import (
    DEFAULT_OUT,
    SMOKE_LABEL,
    add_common_args,
    machine_info,
    median,
    write_json,
)
from .federation import RunSpec, run_config

__all__ = ["measure_dimension", "run", "main"]

CLIENT_SIDE = ("train", "quantise", "encrypt", "prove", "serialise", "seal")
SERVER_SIDE = ("open", "deserialise", "verify", "aggregate", "decrypt", "evaluate")


def measure_dimension(params: Any, d: int, *, tau: float = 5.0, scale: float = 2.0**14,
                      repeat: int = 1, keys: Any = None) -> dict[str, Any]:
    """Encrypt, prove and verify one random update of dimension d (norm 0.9·τ)."""
    from zkflpq import bfv as bfvmod
    from zkflpq.zk import NormStatement, decode_proof, proof_context, prove, verify

    sk, pk = keys or bfvmod.keygen(params)
    enc = bfvmod.Encoder(params, scale, tau)
    rng = np.random.default_rng(d)
    u = rng.normal(0, 1, d)
    u *= 0.9 * tau / np.linalg.norm(u)
    ctx = proof_context("scaling", "scaling", 0, "c")
    t_enc, t_prove, t_verify, t_dec = [], [], [], []
    for _ in range(repeat):
        t = time.perf_counter()
        m = enc.encode(u)
        ct, rnd = bfvmod.encrypt_with_randomness(pk, m)
        t_enc.append(time.perf_counter() - t)
        st = NormStatement(params, pk, ct, enc.bound, ctx)
        t = time.perf_counter()
        proof = prove(st, m, rnd)
        t_prove.append(time.perf_counter() - t)
        data = proof.to_bytes()
        t = time.perf_counter()
        verdict = verify(st, decode_proof(data, st))
        t_verify.append(time.perf_counter() - t)
        if not verdict.accepted:
            raise RuntimeError(f"honest proof rejected at d={d}: {verdict.reason}")
        t = time.perf_counter()
        bfvmod.decrypt(sk, ct)
        t_dec.append(time.perf_counter() - t)
    return {
        "d": d,
        "chunks": len(ct),
        "quantise_encrypt_s": median(t_enc),
        "prove_s": median(t_prove),
        "verify_s": median(t_verify),
        "decrypt_s": median(t_dec),
        "proof_bytes": len(data),
        "ciphertext_bytes": bfvmod.ciphertext_size(params, len(ct)),
        "plaintext_bytes": 4 * d,
        "repeat": repeat,
    }


def run(quick: bool, out: Path, *, budget_s: float = 240.0, max_clients: int = 20,
        log=print) -> dict[str, Any]:
    from zkflpq import bfv as bfvmod

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    params = bfvmod.INSECURE_N256 if quick else bfvmod.DEFAULT
    if quick:
        log(f"[scaling] {SMOKE_LABEL}")
    log_ds = list(range(8, 13)) if quick else list(range(12, 21))
    keys = bfvmod.keygen(params)
    measure_dimension(params, params.n, keys=keys)  # warm-up (numba compilation)
    dims, skipped = [], []
    t_start = time.perf_counter()
    for ld in log_ds:
        d = 2**ld
        if dims:
            last = dims[-1]
            predicted = 2.2 * (last["prove_s"] + last["verify_s"] + last["quantise_encrypt_s"])
            if time.perf_counter() - t_start + predicted > budget_s:
                skipped.append({"d": d, "reason": f"predicted {predicted:.0f} s exceeds the "
                                f"remaining budget of {budget_s:.0f} s"})
                log(f"[scaling] skip d=2^{ld}: time budget")
                continue
        row = measure_dimension(params, d, keys=keys, repeat=3 if ld <= 14 and not quick else 1)
        dims.append(row)
        log(f"[scaling] d=2^{ld}: prove {row['prove_s']:.2f} s, verify {row['verify_s']:.2f} s, "
            f"proof {row['proof_bytes'] / 1e6:.2f} MB")

    # round time vs number of clients ------------------------------------------------------
    all_ns = [2, 4] if quick else [5, 10, 20, 50, 100]
    ns = [n for n in all_ns if n <= max_clients or quick]
    skipped_ns = [n for n in all_ns if n not in ns]
    fed_base: dict[str, Any] = {"n_rounds": 1, "attack_start_round": 99}
    if quick:
        fed_base["hidden"] = [4]
    clients_rows = []
    for n in ns:
        data = ("synthetic", {"n_samples": 250 * n})
        fed = {**fed_base, "n_clients": n, "malicious_clients": []}
        row: dict[str, Any] = {"n_clients": n}
        for cfg in ("standard", "zkflpq"):
            spec = RunSpec(label=f"clients_{n}_{cfg}", config=cfg, attack="none", fed=fed,
                           data=data, bfv="INSECURE_N256" if quick else "DEFAULT",
                           keep_rounds=False)
            res = run_config(spec)
            s = res["summary_ext"]
            ph = s["mean_phase_s"]
            row[f"{cfg}_round_s"] = s["mean_round_time_s"]
            row[f"{cfg}_phases_s"] = ph
            row[f"{cfg}_final_accuracy"] = s["final_accuracy"]
            if cfg == "zkflpq":
                client = sum(ph.get(p, 0.0) for p in CLIENT_SIDE) / n
                server = sum(ph.get(p, 0.0) for p in SERVER_SIDE)
                row["zkflpq_modelled_concurrent_round_s"] = client + server
                row["zkflpq_server_side_s"] = server
                row["zkflpq_client_side_mean_s"] = client
                row["honest_rejected"] = s["honest_rejected"]
        row["overhead_factor"] = row["zkflpq_round_s"] / row["standard_round_s"]
        clients_rows.append(row)
        log(f"[scaling] n={n}: standard {row['standard_round_s']:.2f} s, zkflpq "
            f"{row['zkflpq_round_s']:.2f} s (modelled concurrent "
            f"{row['zkflpq_modelled_concurrent_round_s']:.2f} s)")

    extrapolated = []
    if skipped_ns and clients_rows:
        last = clients_rows[-1]
        per_client = (last["zkflpq_round_s"] - last["zkflpq_phases_s"].get("evaluate", 0.0)) \
            / last["n_clients"]
        for n in skipped_ns:
            extrapolated.append({
                "n_clients": n,
                "zkflpq_round_s_extrapolated": per_client * n,
                "basis": f"linear in n from the measured {last['n_clients']}-client round "
                         f"({per_client:.2f} s per client); NOT measured "
                         f"(--max-clients {max_clients})",
            })
    results = {
        "mode": "quick" if quick else "full",
        "smoke_test": quick,
        "bfv_params": params.name,
        "clients_not_measured": extrapolated,
        "max_clients": max_clients,
        "dimension": dims,
        "dimension_skipped": skipped,
        "dimension_budget_s": budget_s,
        "clients": clients_rows,
        "clients_rest": None,
        "clients_rest_note": "REST variant: see experiments/rest.py (runs only if services/ "
                             "provides the aggregation service)",
        "machine": machine_info(),
        "elapsed_s": time.perf_counter() - t0,
        "command": "python -m experiments.scaling" + (" --quick" if quick else
                                                       f" --max-clients {max_clients}"),
    }
    write_json(out / "results.json", results)
    figures(results, out)
    log(f"[scaling] wrote {out}/results.json ({results['elapsed_s']:.1f} s)"
        + (f" — {SMOKE_LABEL}" if quick else ""))
    return results


def figures(r: dict[str, Any], out: Path) -> list[Path]:
    from . import plots

    files = []
    smoke = bool(r.get("smoke_test"))
    dims = r["dimension"]
    if dims:
        x = [row["d"] for row in dims]
        files.append(plots.line_xy(
            {"prove": (x, [row["prove_s"] for row in dims]),
             "verify": (x, [row["verify_s"] for row in dims]),
             "quantise + encrypt": (x, [row["quantise_encrypt_s"] for row in dims])},
            out / "prove_verify_vs_d.png", title=f"Norm proof cost vs d ({r['bfv_params']})",
            xlabel="d (parameters)", ylabel="seconds (one core)", logx=True, logy=True,
            smoke=smoke))
        files.append(plots.line_xy(
            {"proof": (x, [row["proof_bytes"] / 1e6 for row in dims]),
             "BFV ciphertexts": (x, [row["ciphertext_bytes"] / 1e6 for row in dims]),
             "plaintext float32": (x, [row["plaintext_bytes"] / 1e6 for row in dims])},
            out / "sizes_vs_d.png", title="Bytes per client message vs d",
            xlabel="d (parameters)", ylabel="MB", logx=True, logy=True, smoke=smoke))
    cl = r["clients"]
    if cl:
        x = [row["n_clients"] for row in cl]
        files.append(plots.line_xy(
            {"ZKFL-PQ, clients sequential (measured)": (x, [row["zkflpq_round_s"] for row in cl]),
             "ZKFL-PQ, clients concurrent (model)":
                 (x, [row["zkflpq_modelled_concurrent_round_s"] for row in cl]),
             "Standard FL (measured)": (x, [row["standard_round_s"] for row in cl])},
            out / "round_time_vs_clients.png", title="Round time vs number of clients",
            xlabel="clients", ylabel="seconds per round", logy=True, smoke=smoke))
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap, DEFAULT_OUT / "scaling")
    ap.add_argument("--budget-s", type=float, default=240.0,
                    help="time budget for the proof-size sweep (default 240 s)")
    ap.add_argument("--max-clients", type=int, default=20,
                    help="largest federation measured in the clients sweep (5…100; default "
                         "20 to keep the full mode near 30 min; 100 takes ≈ 15 min more)")
    a = ap.parse_args(argv)
    run(a.quick, a.out, budget_s=a.budget_s, max_clients=a.max_clients)
    return 0


if __name__ == "__main__":
    sys.exit(main())
