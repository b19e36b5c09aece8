"""Part B1: where the time and the bytes go, per round and per client.

Runs the three configurations on the paper's setting without attack (so every client
is honest and does the full client-side work), clients one after another in one
process, and reports per round: local training, quantisation, encryption, proving,
serialisation, sealing (client side); opening, deserialisation, verification,
aggregation, decryption, evaluation (server side) — and per client message: plaintext
float32 bytes vs BFV ciphertext, proof and sealed-envelope bytes. A KEM micro-benchmark
(ML-KEM-768 vs X-Wing sealing of one ZKFL-PQ message) completes it.

    python -m experiments.overhead                # full → paper_results/overhead/
    python -m experiments.overhead --quick --out /tmp/o

``--quick`` (INSECURE_N256, tiny model) is a smoke test: ``"smoke_test": true`` in
``results.json``, and the table, the figure and the printed summary say so.
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
    median,
    smoke_banner,
    write_json,
)
from .federation import RunSpec, run_config

__all__ = ["PHASE_ORDER", "run", "main"]

PHASE_ORDER = ("train", "quantise", "encrypt", "prove", "serialise", "seal", "open",
               "deserialise", "verify", "aggregate", "decrypt", "evaluate")
CLIENT_SIDE = ("train", "quantise", "encrypt", "prove", "serialise", "seal")


def kem_bench(message_bytes: int, repeat: int) -> dict[str, Any]:
    """Seal + open of one message of ``message_bytes`` with ML-KEM-768 and X-Wing."""
    import os

    from zkflpq.pq import KemAlgorithm, KemPrivateKey, open_sealed, seal

    msg = os.urandom(message_bytes)
    out = {}
    for name, alg in (("mlkem768", KemAlgorithm.MLKEM768), ("xwing", KemAlgorithm.XWING)):
        sk = KemPrivateKey.generate(alg)
        pk = sk.public_key()
        ts, to = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            sealed, _ = seal(pk, msg, b"ctx")
            ts.append(time.perf_counter() - t)
            t = time.perf_counter()
            open_sealed(sk, sealed, b"ctx")
            to.append(time.perf_counter() - t)
        out[name] = {"seal_ms": 1e3 * median(ts), "open_ms": 1e3 * median(to),
                     "overhead_bytes": len(sealed) - message_bytes}
    return {"message_bytes": message_bytes, "repeat": repeat, **out}


def run(quick: bool, out: Path, *, rounds: int | None = None, log=print) -> dict[str, Any]:
    from .reproduce_paper import warm_up

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bfv = "INSECURE_N256" if quick else "DEFAULT"
    n_rounds = rounds or (2 if quick else 1)
    fed: dict[str, Any] = {"n_rounds": n_rounds, "attack_start_round": 99,
                           "malicious_clients": []}
    if quick:
        fed["hidden"] = [4]
        log(f"[overhead] {SMOKE_LABEL}")
    warm_up(bfv)
    configs: dict[str, Any] = {}
    for cfg in ("standard", "mlkem", "zkflpq"):
        f = dict(fed) if cfg == "zkflpq" else {**fed, "clip_honest": False}
        res = run_config(RunSpec(label=cfg, config=cfg, attack="none", fed=f, bfv=bfv))
        s = res["summary_ext"]
        n = res["config"]["n_clients"]
        ph = {k: s["mean_phase_s"].get(k) for k in PHASE_ORDER if k in s["mean_phase_s"]}
        configs[cfg] = {
            "mean_round_time_s": s["mean_round_time_s"],
            "mean_round_cpu_s": s["mean_round_cpu_s"],
            "round_phases_s": ph,
            "per_client_phases_s": {k: v / n for k, v in ph.items()
                                    if k in CLIENT_SIDE or k in ("open", "deserialise",
                                                                 "verify")},
            "unaccounted_s": s["mean_round_time_s"] - sum(v for v in ph.values() if v),
            "bytes_per_message": s["bytes_per_message_mean"],
            "n_params": s["n_params"],
            "n_clients": n,
            "final_accuracy": s["final_accuracy"],
        }
        log(f"[overhead] {cfg}: {s['mean_round_time_s']:.3f} s per round")
    z = configs["zkflpq"]
    std = configs["standard"]["mean_round_time_s"]
    share = {k: v / z["mean_round_time_s"] for k, v in z["round_phases_s"].items()}
    b = z["bytes_per_message"]
    kem = kem_bench(int(b["ciphertext_bytes"] + b["proof_bytes"] + 8), 3 if quick else 11)
    results = {
        "mode": "quick" if quick else "full",
        "smoke_test": quick,
        "bfv_params": bfv,
        "rounds": n_rounds,
        "configs": configs,
        "overhead_factor": z["mean_round_time_s"] / std,
        "overhead_factor_cpu": (z["mean_round_cpu_s"] / configs["standard"]["mean_round_cpu_s"]
                                if z["mean_round_cpu_s"] else None),
        "zkflpq_phase_share": share,
        "bytes_expansion_vs_plaintext": {
            "ciphertext": b["ciphertext_bytes"] / b["plaintext_bytes"],
            "proof": b["proof_bytes"] / b["plaintext_bytes"],
            "envelope": b["envelope_bytes"] / b["plaintext_bytes"],
        },
        "kem_bench": kem,
        "machine": machine_info(),
        "elapsed_s": time.perf_counter() - t0,
        "command": "python -m experiments.overhead" + (" --quick" if quick else ""),
    }
    write_json(out / "results.json", results)
    (out / "table.md").write_text(table_markdown(results))
    figures(results, out)
    log(f"[overhead] wrote {out}/results.json ({results['elapsed_s']:.1f} s)"
        + (f" — {SMOKE_LABEL}" if quick else ""))
    return results


def table_markdown(r: dict[str, Any]) -> str:
    c = r["configs"]
    names = {"standard": "Standard FL", "mlkem": "FL + ML-KEM", "zkflpq": "ZKFL-PQ"}
    smoke = bool(r.get("smoke_test"))
    lines = [*([smoke_banner(smoke).rstrip("\n"), ""] if smoke else []),
             "| Phase (s per round, all clients) | " + " | ".join(names.values()) + " |",
             "|---|---|---|---|"]
    for ph in PHASE_ORDER:
        vals = [c[k]["round_phases_s"].get(ph) for k in names]
        if all(v is None for v in vals):
            continue
        lines.append(f"| {ph} | " + " | ".join("–" if v is None else f"{v:.4f}" for v in vals)
                     + " |")
    lines.append("| **round total** | " + " | ".join(
        f"**{c[k]['mean_round_time_s']:.3f}**" for k in names) + " |")
    b = c["zkflpq"]["bytes_per_message"]
    bm = c["mlkem"]["bytes_per_message"]
    lines += ["", "| Bytes per client message | Size | × plaintext |", "|---|---|---|",
              f"| plaintext update (float32) | {b['plaintext_bytes']:,.0f} | 1 |",
              f"| FL + ML-KEM sealed envelope | {bm['envelope_bytes']:,.0f} | "
              f"{bm['envelope_bytes'] / b['plaintext_bytes']:.3f} |",
              f"| ZKFL-PQ BFV ciphertexts | {b['ciphertext_bytes']:,.0f} | "
              f"{b['ciphertext_bytes'] / b['plaintext_bytes']:.2f} |",
              f"| ZKFL-PQ norm proof | {b['proof_bytes']:,.0f} | "
              f"{b['proof_bytes'] / b['plaintext_bytes']:.2f} |",
              f"| ZKFL-PQ sealed envelope (ciphertexts + proof + KEM) | "
              f"{b['envelope_bytes']:,.0f} | {b['envelope_bytes'] / b['plaintext_bytes']:.2f} |"]
    k = r["kem_bench"]
    lines += ["", f"| Seal / open one {k['message_bytes']:,}-byte message | seal (ms) | "
              "open (ms) | bytes added |", "|---|---|---|---|"]
    for name in ("mlkem768", "xwing"):
        lines.append(f"| {name} | {k[name]['seal_ms']:.2f} | {k[name]['open_ms']:.2f} | "
                     f"{k[name]['overhead_bytes']:,} |")
    return "\n".join(lines) + "\n"


def figures(r: dict[str, Any], out: Path) -> list[Path]:
    from . import plots

    names = {"standard": "Standard FL", "mlkem": "FL + ML-KEM", "zkflpq": "ZKFL-PQ"}
    rows = {names[k]: {ph: v for ph, v in r["configs"][k]["round_phases_s"].items() if v}
            for k in names}
    return [plots.bar_breakdown(rows, out / "timing_breakdown.png", order=PHASE_ORDER,
                                title="Time per round by phase (5 clients, sequential, "
                                      f"{r['bfv_params']})", smoke=bool(r.get("smoke_test")))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap, DEFAULT_OUT / "overhead")
    ap.add_argument("--rounds", type=int, default=None)
    a = ap.parse_args(argv)
    print(table_markdown(run(a.quick, a.out, rounds=a.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
