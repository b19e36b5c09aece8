"""Part A: reproduce the ZKFL-PQ paper's three configurations side by side.

Setting (paper): 5 clients, 10 rounds, synthetic 4-class data (seed 42),
MLP 784-128-64-4 (108,996 parameters), τ = 5, client 3 sends N(0, 50²) noise from
round index 3. Configurations: Standard FL; FL + ML-KEM (sealed plaintext updates);
ZKFL-PQ in two scopes — ``full`` (ML-KEM envelope + BFV encryption of *every* parameter
+ norm proof of *every* parameter + real verification + homomorphic aggregation) and
``paper-scope`` (exactly what the paper's code protects: the first 512 parameters
encrypted, the first 256 proven, the rest plaintext in the envelope — with our proof,
really verified), so the paper's ~20× is compared like for like.

The headline runs execute one after another in this process, clients simulated
one after another (the paper's way), after a warm-up that compiles the numba kernels,
so the overhead factor compares like with like on the same machine. Proving and
verifying use every core (``threads`` = the machine's logical cores). Ablations (number of
malicious clients 0–3, τ ∈ {1, 2, 5, 10, 50}) use the same ZKFL-PQ pipeline and may
run in worker processes (their timings are not reported).

    python -m experiments.reproduce_paper            # full: writes paper_results/reproduction/
    python -m experiments.reproduce_paper --quick --out /tmp/r   # fast (INSECURE_N256, small MLP)

``--quick`` is a smoke test of the code path, not a result: ``results.json`` then has
``"smoke_test": true`` and every target ``null`` (``targets_status`` says "not evaluated
(smoke test)"), and the table, the figures and the printed summary carry
:data:`~experiments.common.SMOKE_LABEL`.

Writes ``results.json`` (headline numbers, paper vs ours, ablations, machine),
``runs.json`` (every round of every run), ``table.md`` and PNG figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .common import (
    CRYPTO_PHASES,
    DEFAULT_OUT,
    NOT_EVALUATED,
    PAPER,
    SMOKE_LABEL,
    add_common_args,
    machine_info,
    smoke_banner,
    smoke_targets,
    write_json,
)
from .federation import RunSpec, run_config, run_many

__all__ = ["settings", "run", "main", "CONFIGURATION_KEYS", "REQUIRED_KEYS", "SCOPE_RUNS"]

REQUIRED_KEYS = (
    "mode",
    "n_params",
    "overhead_factor",
    "overhead_factor_cpu",
    "encrypted_fraction",
    "final_accuracy",
    "malicious_rejected_rate",
    "honest_rejected_rate",
)
# the same keys per ZKFL-PQ configuration, in results["configurations"][name]
CONFIGURATION_KEYS = (
    "mode", "n_params", "overhead_factor", "overhead_factor_cpu", "encrypted_fraction",
    "proven_fraction", "malicious_rejected_rate", "honest_rejected_rate", "final_accuracy",
    "mean_round_time_s", "mean_round_cpu_s", "bytes_per_message_mean",
)
SCOPE_RUNS = {"full": "zkflpq", "paper-scope": "zkflpq_paper_scope"}
HEADLINE_RUNS = ("standard", "mlkem", "zkflpq", "zkflpq_paper_scope")
OVERHEAD_TARGET = 20.0  # the paper's own figure, for the full model
# the profile of the overhead: the protection phases, and the homomorphic aggregation
PROFILE_PHASES = (*CRYPTO_PHASES, "aggregate")

# malicious-client sets for the ablation (client 3 is the paper's attacker)
MALICIOUS_SETS = {0: (), 1: (3,), 2: (3, 4), 3: (2, 3, 4)}


def settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {
            "mode": "quick",
            "fed": {"hidden": [4], "n_rounds": 4, "attack_start_round": 1},
            "bfv": "INSECURE_N256",
            "ablation_malicious": [0, 2],
            "ablation_tau": [1.0, 50.0],
            "ablation_rounds": None,  # = n_rounds (the no-attack run is the accuracy reference)
        }
    return {
        "mode": "full",
        "fed": {},  # FederationConfig defaults = the paper's setting
        "bfv": "DEFAULT",
        "ablation_malicious": [0, 1, 2, 3],
        "ablation_tau": [1.0, 2.0, 5.0, 10.0, 50.0],
        "ablation_rounds": None,  # = n_rounds
    }


def warm_up(bfv: str) -> None:
    """Compile numba kernels and touch torch before anything is timed."""
    import numpy as np

    from zkflpq import bfv as bfvmod
    from zkflpq.fl.data import make_synthetic_medical
    from zkflpq.fl.model import flatten_params, make_mlp
    from zkflpq.fl.training import local_train
    from zkflpq.zk import NormStatement, decode_proof, proof_context, prove, verify

    params = getattr(bfvmod, bfv)
    sk, pk = bfvmod.keygen(params)
    enc = bfvmod.Encoder(params, 2.0**14, 5.0)
    m = enc.encode(np.full(params.n + 3, 1e-3))
    ct, rnd = bfvmod.encrypt_with_randomness(pk, m)
    st = NormStatement(params, pk, ct, enc.bound, proof_context("w", "w", 0, "w"))
    pf = prove(st, m, rnd)
    verify(st, decode_proof(pf.to_bytes(), st))
    bfvmod.decrypt(sk, bfvmod.sum_ciphertexts([ct, ct]))
    ds = make_synthetic_medical(64, 784, seed=1)
    local_train(flatten_params(make_mlp(seed=0)), ds, 1, 0.01, 32, 0)


def _ablation_row(res: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    s = res["summary_ext"]
    return {
        key: value,
        "final_accuracy": s["final_accuracy"],
        "malicious_submissions": s["malicious_submissions"],
        "malicious_rejected": s["malicious_rejected"],
        "honest_submissions": s["honest_submissions"],
        "honest_rejected": s["honest_rejected"],
        "malicious_rejected_rate": s["malicious_rejected_rate"],
        "honest_rejected_rate": s["honest_rejected_rate"],
        "honest_over_tau_unclipped": s["honest_over_tau_unclipped"],
        "honest_over_tau_unclipped_rate": s["honest_over_tau_unclipped_rate"],
        "accuracy_per_round": s["accuracy_per_round"],
        "rejection_reasons": s["rejection_reasons"],
        "proofs_mode": s["proofs_mode"],
        "submissions_verified": s["submissions_verified"],
    }


def _configuration(mode: str, run: dict[str, Any], standard: dict[str, Any]) -> dict[str, Any]:
    """Headline numbers of one ZKFL-PQ run against the standard-FL run of the same process
    (overhead = mean round time ratio, wall-clock and CPU time of the process)."""
    z = run["summary_ext"]
    sd = standard["summary_ext"]
    msgs = [m for rec in run["rounds"] for m in rec.get("messages", [])]
    cpu = (z["mean_round_cpu_s"] / sd["mean_round_cpu_s"]
           if z["mean_round_cpu_s"] and sd["mean_round_cpu_s"] else None)
    crypto = {k: v for k, v in z["mean_phase_s"].items() if k in PROFILE_PHASES and v}
    crypto_total = sum(crypto.values())
    return {
        "mode": mode,
        "n_params": z["n_params"],
        "overhead_factor": z["mean_round_time_s"] / sd["mean_round_time_s"],
        "overhead_factor_cpu": cpu,
        "encrypted_fraction": min(m["encrypted_params"] / m["params_total"] for m in msgs),
        "proven_fraction": min(m["proven_params"] / m["params_total"] for m in msgs),
        "encrypted_params": min(m["encrypted_params"] for m in msgs),
        "proven_params": min(m["proven_params"] for m in msgs),
        "malicious_rejected_rate": z["malicious_rejected_rate"],
        "honest_rejected_rate": z["honest_rejected_rate"],
        "final_accuracy": z["final_accuracy"],
        "mean_round_time_s": z["mean_round_time_s"],
        "mean_round_cpu_s": z["mean_round_cpu_s"],
        "bytes_per_message_mean": z["bytes_per_message_mean"],
        "rejection_reasons": z["rejection_reasons"],
        "threads": run.get("threads"),
        # where the extra time goes: seconds per round and share of the crypto phases
        "crypto_profile_s": crypto,
        "crypto_profile_share": {k: v / crypto_total for k, v in crypto.items()}
        if crypto_total else {},
    }


def run(quick: bool, out: Path, *, workers: int = 2, ablations: bool = True,
        full_proofs: bool = False, log=print) -> dict[str, Any]:
    st = settings(quick)
    # ablations: every submission proven in quick mode (cheap) or with --full-proofs;
    # otherwise only the attackers' submissions (see ZkflPqPipeline, budget mode)
    abl_proofs = "all" if (quick or full_proofs) else "attackers"
    st["ablation_proofs"] = abl_proofs
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fed = st["fed"]
    t0 = time.perf_counter()
    if quick:
        log(f"[reproduce] {SMOKE_LABEL}")
    log(f"[reproduce] mode={st['mode']} bfv={st['bfv']}: warm-up")
    warm_up(st["bfv"])

    base = RunSpec(label="", config="standard", attack="gaussian",
                   attack_kwargs={"std": PAPER.noise_std}, fed=dict(fed), bfv=st["bfv"])
    no_clip = {**fed, "clip_honest": False}  # standard / ML-KEM clients do not know tau
    specs = {
        "standard": RunSpec(**{**base.__dict__, "label": "standard", "config": "standard",
                               "fed": no_clip}),
        "mlkem": RunSpec(**{**base.__dict__, "label": "mlkem", "config": "mlkem",
                            "fed": no_clip}),
        "zkflpq": RunSpec(**{**base.__dict__, "label": "zkflpq", "config": "zkflpq"}),
        "zkflpq_paper_scope": RunSpec(**{**base.__dict__, "label": "zkflpq_paper_scope",
                                         "config": "zkflpq", "scope": "paper"}),
        "standard_no_attack": RunSpec(**{**base.__dict__, "label": "standard_no_attack",
                                         "config": "standard", "attack": "none",
                                         "attack_kwargs": {}, "fed": no_clip}),
    }
    runs: dict[str, dict[str, Any]] = {}
    for name in (*HEADLINE_RUNS, "standard_no_attack"):
        t = time.perf_counter()
        runs[name] = run_config(specs[name])
        s = runs[name]["summary_ext"]
        log(f"[reproduce] {name}: acc {s['final_accuracy']:.3f}, mean round "
            f"{s['mean_round_time_s']:.3f} s, detection {s['malicious_rejected_rate']}, "
            f"({time.perf_counter() - t:.1f} s)")

    # ablations (ZKFL-PQ pipeline, real proofs) -------------------------------------------
    abl_fed = dict(fed)
    if st["ablation_rounds"]:
        abl_fed["n_rounds"] = st["ablation_rounds"]
    # the main run can stand in for an ablation point only if it is proven the same way
    same_as_main = st["ablation_rounds"] is None and abl_proofs == "all"
    abl_specs: list[tuple[str, Any, RunSpec]] = []
    if ablations:
        for n_mal in st["ablation_malicious"]:
            if n_mal == 1 and same_as_main:
                continue
            f = {**abl_fed, "malicious_clients": list(MALICIOUS_SETS[n_mal])}
            abl_specs.append(("malicious", n_mal, RunSpec(
                **{**specs["zkflpq"].__dict__, "label": f"ablation_malicious_{n_mal}",
                   "fed": f, "attack": "gaussian" if n_mal else "none",
                   "attack_kwargs": {"std": PAPER.noise_std} if n_mal else {},
                   "keep_rounds": False, "proofs": abl_proofs})))
        for tau in st["ablation_tau"]:
            if tau == PAPER.tau and same_as_main:
                continue
            abl_specs.append(("tau", tau, RunSpec(
                **{**specs["zkflpq"].__dict__, "label": f"ablation_tau_{tau:g}",
                   "fed": {**abl_fed, "tau": tau}, "keep_rounds": False,
                   "proofs": abl_proofs})))
        t = time.perf_counter()
        log(f"[reproduce] {len(abl_specs)} ablation runs on {workers} worker(s)")
        abl_res = run_many([s for _, _, s in abl_specs], workers=workers)
        log(f"[reproduce] ablations done ({time.perf_counter() - t:.1f} s)")
    else:
        abl_res = []
    abl_mal, abl_tau = [], []
    for (kind, val, _), res in zip(abl_specs, abl_res, strict=True):
        runs[res["label"]] = res
        (abl_mal if kind == "malicious" else abl_tau).append(_ablation_row(res, kind, val))
    if ablations and same_as_main:
        abl_mal.append(_ablation_row(runs["zkflpq"], "malicious", 1))
        abl_tau.append(_ablation_row(runs["zkflpq"], "tau", PAPER.tau))
    abl_mal.sort(key=lambda r: r["malicious"])
    abl_tau.sort(key=lambda r: r["tau"])
    for r in abl_mal:
        pa = PAPER.ablation_malicious.get(r["malicious"])
        r["paper_final_accuracy"], r["paper_detected"] = (pa if pa else (None, None))
    for r in abl_tau:
        pt = PAPER.ablation_tau.get(r["tau"])
        r["paper_false_positive_rate"], r["paper_detection_rate"] = (pt if pt else (None, None))

    # headline numbers ------------------------------------------------------------------
    z = runs["zkflpq"]["summary_ext"]
    msgs = [m for rec in runs["zkflpq"]["rounds"] for m in rec["messages"]]
    configurations = {name: _configuration(st["mode"], runs[label], runs["standard"])
                      for name, label in SCOPE_RUNS.items()}
    full = configurations["full"]
    enc_frac, proven_frac = full["encrypted_fraction"], full["proven_fraction"]
    overhead, overhead_cpu = full["overhead_factor"], full["overhead_factor_cpu"]
    no_attack_zk = next((r for r in abl_mal if r["malicious"] == 0), None)
    ref_acc = (no_attack_zk or {}).get("final_accuracy")
    final_acc = {n: runs[n]["summary_ext"]["final_accuracy"] for n in runs
                 if n in (*HEADLINE_RUNS, "standard_no_attack")}
    if ref_acc is not None:
        final_acc["zkflpq_no_attack"] = ref_acc
    targets = {
        "overhead_factor_le_20": overhead <= OVERHEAD_TARGET,
        "overhead_factor_cpu_le_20": (None if overhead_cpu is None
                                      else overhead_cpu <= OVERHEAD_TARGET),
        "encrypted_fraction_eq_1": enc_frac == 1.0,
        "all_malicious_rejected": z["malicious_rejected_rate"] == 1.0,
        "no_honest_rejected": z["honest_rejected_rate"] == 0.0,
        "accuracy_within_1_point_of_no_attack": (
            None if ref_acc is None else abs(ref_acc - z["final_accuracy"]) <= 0.01),
    }
    results: dict[str, Any] = {
        "mode": st["mode"],
        "smoke_test": quick,
        "overhead_factor": overhead,
        "overhead_factor_cpu": overhead_cpu,
        "overhead_target": OVERHEAD_TARGET,
        # > 1: the full model's wall-clock factor misses the target by this factor
        "overhead_target_ratio": overhead / OVERHEAD_TARGET,
        "configurations": configurations,
        "mean_round_cpu_s": {n: runs[n]["summary_ext"]["mean_round_cpu_s"]
                             for n in HEADLINE_RUNS},
        "encrypted_fraction": enc_frac,
        "proven_fraction": proven_frac,
        "n_params": z["n_params"],
        "chunks_per_update": msgs[0]["chunks"],
        "final_accuracy": final_acc,
        "malicious_rejected_rate": z["malicious_rejected_rate"],
        "honest_rejected_rate": z["honest_rejected_rate"],
        "accuracy_gap_vs_no_attack_points": (
            None if ref_acc is None else 100 * (ref_acc - z["final_accuracy"])),
        "accuracy_gap_vs_standard_no_attack_points": 100 * (
            runs["standard_no_attack"]["summary_ext"]["final_accuracy"] - z["final_accuracy"]),
        "mean_round_time_s": {n: runs[n]["summary_ext"]["mean_round_time_s"]
                              for n in HEADLINE_RUNS},
        "detection_rate": {n: runs[n]["summary_ext"]["malicious_rejected_rate"]
                           for n in HEADLINE_RUNS},
        "false_positive_rate": {n: runs[n]["summary_ext"]["honest_rejected_rate"]
                                for n in HEADLINE_RUNS},
        "mean_phase_s": {n: runs[n]["summary_ext"]["mean_phase_s"]
                         for n in HEADLINE_RUNS},
        "bytes_per_message_mean": {n: runs[n]["summary_ext"]["bytes_per_message_mean"]
                                   for n in HEADLINE_RUNS},
        "rejection_reasons": z["rejection_reasons"],
        # from the ZKFL-PQ run: in standard FL the attacked model diverges and so do the
        # honest updates computed from it
        "honest_norm_range": z["honest_norm_range"],
        "malicious_norm_mean": (sum(z["malicious_norms"]) / len(z["malicious_norms"])
                                if z["malicious_norms"] else None),
        # a smoke test (insecure N = 256 ring, tiny model) evaluates no target
        "targets": smoke_targets(targets, quick),
        "targets_status": NOT_EVALUATED if quick else "evaluated",
        "paper": {
            "mean_round_time_s": PAPER.mean_round_time_s,
            "final_accuracy": PAPER.final_accuracy,
            "detection_rate": PAPER.detection_rate,
            "overhead_factor": PAPER.overhead_factor,
            "encrypted_fraction": PAPER.encrypted_params / PAPER.n_params,
            "proven_fraction": PAPER.proven_params / PAPER.n_params,
        },
        "ablation_malicious": abl_mal,
        "ablation_tau": abl_tau,
        "accuracy_per_round": {n: runs[n]["summary_ext"]["accuracy_per_round"]
                               for n in (*HEADLINE_RUNS, "standard_no_attack")},
        "settings": {**st, "bfv_params": st["bfv"], "kem": base.kem,
                     "federation": runs["zkflpq"]["config"],
                     "malicious_sets": {str(k): list(v) for k, v in MALICIOUS_SETS.items()},
                     "workers": workers},
        "machine": machine_info(),
        "elapsed_s": time.perf_counter() - t0,
        "command": "python -m experiments.reproduce_paper" + (" --quick" if quick else "")
                   + (" --full-proofs" if full_proofs else ""),
    }
    write_json(out / "results.json", results)
    write_json(out / "runs.json", runs)
    (out / "table.md").write_text(table_markdown(results))
    figures(results, out)
    log(f"[reproduce] wrote {out}/results.json ({results['elapsed_s']:.1f} s)"
        + (f" — {SMOKE_LABEL}" if quick else ""))
    return results


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _x(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}×"


def _kb(b: dict[str, float] | None) -> str:
    v = (b or {}).get("envelope_bytes") or (b or {}).get("plaintext_bytes")
    return "n/a" if v is None else f"{v / 1000:,.0f} kB"


ROW_LABELS = {"standard": "Standard FL", "mlkem": "FL + ML-KEM",
              "zkflpq_paper_scope": "ZKFL-PQ, paper scope (512 encrypted, 256 proven)",
              "zkflpq": "ZKFL-PQ, full (every parameter encrypted and proven)"}
# which of the paper's rows a configuration of ours is compared with
PAPER_ROW = {"standard": "standard", "mlkem": "mlkem", "zkflpq_paper_scope": "zkflpq",
             "zkflpq": "zkflpq"}


def table_markdown(r: dict[str, Any]) -> str:
    p = r["paper"]
    smoke = bool(r.get("smoke_test"))
    std_t = r["mean_round_time_s"]["standard"]
    std_cpu = r["mean_round_cpu_s"]["standard"]
    p_std = p["mean_round_time_s"]["standard"]
    lines = [*([smoke_banner(smoke).rstrip("\n"), ""] if smoke else []),
        "| Configuration | Round time, paper | Round time, ours | Overhead, paper | "
        "Overhead, ours (wall) | Overhead, ours (CPU) | Final accuracy, paper | "
        "Final accuracy, ours | Detection, paper | Detection, ours | Honest rejected, ours | "
        "Bytes per client message, ours |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k, label in ROW_LABELS.items():
        if k not in r["mean_round_time_s"]:
            continue
        pk = PAPER_ROW[k]
        t = r["mean_round_time_s"][k]
        cpu = r["mean_round_cpu_s"].get(k)
        lines.append(
            f"| {label} | {p['mean_round_time_s'][pk]:.3f} s | {t:.3f} s | "
            f"{p['mean_round_time_s'][pk] / p_std:.1f}× | {t / std_t:.1f}× | "
            f"{_x(cpu / std_cpu if cpu and std_cpu else None)} | "
            f"{_pct(p['final_accuracy'][pk])} | {_pct(r['final_accuracy'].get(k))} | "
            f"{_pct(p['detection_rate'][pk])} | {_pct(r['detection_rate'][k])} | "
            f"{_pct(r['false_positive_rate'][k])} | {_kb(r['bytes_per_message_mean'][k])} |")
    confs = r.get("configurations", {})
    full, ps = confs.get("full", {}), confs.get("paper-scope", {})
    lines += [
        "",
        "| Quantity | Paper | Ours, paper scope | Ours, full |",
        "|---|---|---|---|",
        f"| Parameters HE-encrypted | {100 * p['encrypted_fraction']:.2f} % (512 of 108,996) "
        f"| {100 * ps.get('encrypted_fraction', 0):.2f} % ({ps.get('encrypted_params', 0):,}) "
        f"| {100 * r['encrypted_fraction']:.2f} % ({r['n_params']:,} of {r['n_params']:,}) |",
        f"| Parameters covered by the norm proof | {100 * p['proven_fraction']:.2f} % "
        f"(256 of 108,996) | {100 * ps.get('proven_fraction', 0):.2f} % "
        f"({ps.get('proven_params', 0):,}) | {100 * r['proven_fraction']:.2f} % |",
        "| Who decides rejection | flag reported by the prover | verifier's verdict on the "
        "proof | verifier's verdict on the proof |",
        f"| Overhead factor vs Standard FL, same run (wall) | ~{p['overhead_factor']:.0f}× | "
        f"{_x(ps.get('overhead_factor'))} | {_x(full.get('overhead_factor'))}"
        + (" (smoke test, not comparable with the paper)" if smoke else "") + " |",
        f"| Same, by CPU time of the process | – | {_x(ps.get('overhead_factor_cpu'))} | "
        f"{_x(full.get('overhead_factor_cpu'))} |",
    ]
    lines += ["", *_target_lines(r), "", *_reproduction_notes(r)]
    return "\n".join(lines) + "\n"


def _target_lines(r: dict[str, Any]) -> list[str]:
    """The ≤ 20× target for the full model, met or missed by a stated factor, with the
    profile of the crypto phases that explains it."""
    full = r.get("configurations", {}).get("full")
    if not full:
        return []
    if r.get("smoke_test"):
        return [f"Target (full model ≤ {OVERHEAD_TARGET:g}× wall-clock): {NOT_EVALUATED}."]
    f = full["overhead_factor"]
    verdict = ("met" if f <= OVERHEAD_TARGET
               else f"missed by a factor {f / OVERHEAD_TARGET:.2f}")
    prof = sorted(full["crypto_profile_s"].items(), key=lambda kv: -kv[1])
    std = r["mean_round_time_s"]["standard"]
    budget = (OVERHEAD_TARGET - 1) * std
    crypto = sum(full["crypto_profile_s"].values())
    return [
        f"**Target: full model ≤ {OVERHEAD_TARGET:g}× wall-clock on this machine "
        f"(proving and verifying on {full.get('threads')} threads): {f:.1f}× — {verdict}** "
        f"(CPU-time factor {_x(full.get('overhead_factor_cpu'))}).",
        "",
        "Profile of the extra time per round (5 clients, seconds): "
        + ", ".join(f"{k} {v:.3f} ({100 * full['crypto_profile_share'][k]:.0f} %)"
                    for k, v in prof)
        + f". In all {crypto:.3f} s of cryptography per round against {std:.3f} s of "
          f"standard FL; ≤ {OVERHEAD_TARGET:g}× leaves {budget:.3f} s, i.e. "
          f"{budget / 5 * 1000:.0f} ms per client for proving + verifying "
          f"{full['n_params']:,} parameters.",
    ]


def _reproduction_notes(r: dict[str, Any]) -> list[str]:
    """What of the paper is reproduced, and why the rest differs (from the numbers)."""
    if r.get("smoke_test"):
        return []
    p = r["paper"]
    ps = r.get("configurations", {}).get("paper-scope")
    out = ["What is reproduced:", ""]
    for k, label in (("zkflpq_paper_scope", "paper scope"), ("zkflpq", "full")):
        if k in r["detection_rate"]:
            ok = (r["detection_rate"][k] == p["detection_rate"]["zkflpq"]
                  and r["false_positive_rate"][k] == 0.0)
            out.append(f"- Detection {_pct(r['detection_rate'][k])} with "
                       f"{_pct(r['false_positive_rate'][k])} honest rejections ({label}): "
                       + ("reproduced (paper: 100 %, no false positive)." if ok
                          else "NOT reproduced (paper: 100 %, no false positive)."))
    acc = r["final_accuracy"]
    out.append(f"- Final accuracy with the defence {_pct(acc.get('zkflpq'))} (full), "
               f"{_pct(acc.get('zkflpq_paper_scope'))} (paper scope); paper 100 %. Without "
               f"it (standard FL) {_pct(acc.get('standard'))}; paper "
               f"{_pct(p['final_accuracy']['standard'])}: the attacked model is destroyed in "
               f"both, the exact value depends on where the diverged model's predictions "
               f"land.")
    if ps:
        mk = r["mean_round_time_s"]["mlkem"] / r["mean_round_time_s"]["standard"]
        p_mk = p["mean_round_time_s"]["mlkem"] / p["mean_round_time_s"]["standard"]
        out.append(
            f"- Overhead: paper scope {ps['overhead_factor']:.1f}× wall against the paper's "
            f"~{p['overhead_factor']:.0f}×. The paper's figure is mostly its ML-KEM: FL + "
            f"ML-KEM alone costs it {p_mk:.1f}× (a pure-Python ML-KEM), ours {mk:.2f}× "
            f"(the `cryptography` library's native ML-KEM-768), so at equal scope our "
            f"round is dominated by the proof of one 4096-coefficient ciphertext, not by "
            f"the KEM. Round times themselves differ with the machine (the paper's "
            f"standard round {p['mean_round_time_s']['standard']:.3f} s, ours "
            f"{r['mean_round_time_s']['standard']:.3f} s).")
    return out


def figures(r: dict[str, Any], out: Path) -> list[Path]:
    from . import plots

    smoke = bool(r.get("smoke_test"))
    start = r["settings"]["federation"]["attack_start_round"]
    acc = r["accuracy_per_round"]
    files = [plots.accuracy_per_round(
        {"Standard FL": acc["standard"], "FL + ML-KEM": acc["mlkem"],
         "ZKFL-PQ (all params, real proofs)": acc["zkflpq"],
         "Standard FL, no attack": acc["standard_no_attack"]},
        out / "accuracy_per_round.png",
        title="Accuracy per round, Gaussian N(0,50²) attacker (client 3)",
        attack_start=start,
        paper_final={"Standard FL": PAPER.final_accuracy["standard"],
                     "FL + ML-KEM": PAPER.final_accuracy["mlkem"],
                     "ZKFL-PQ (all params, real proofs)": PAPER.final_accuracy["zkflpq"]},
        smoke=smoke,
    )]
    if r["ablation_malicious"]:
        files.append(plots.accuracy_per_round(
            {f"{row['malicious']} malicious": row["accuracy_per_round"]
             for row in r["ablation_malicious"]},
            out / "ablation_malicious.png",
            title="ZKFL-PQ: accuracy per round vs number of malicious clients",
            attack_start=start, smoke=smoke))
    if r["ablation_tau"]:
        files.append(plots.accuracy_per_round(
            {f"τ = {row['tau']:g}": row["accuracy_per_round"] for row in r["ablation_tau"]},
            out / "ablation_tau.png",
            title="ZKFL-PQ: accuracy per round vs norm bound τ", attack_start=start,
            smoke=smoke))
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap, DEFAULT_OUT / "reproduction")
    ap.add_argument("--workers", type=int, default=2, help="processes for the ablations")
    ap.add_argument("--no-ablations", action="store_true")
    ap.add_argument("--full-proofs", action="store_true",
                    help="prove every submission in the ablations too (≈7 more full runs)")
    a = ap.parse_args(argv)
    r = run(a.quick, a.out, workers=a.workers, ablations=not a.no_ablations,
            full_proofs=a.full_proofs)
    print(table_markdown(r))
    if r.get("smoke_test"):
        print(f"{SMOKE_LABEL}: the targets were {NOT_EVALUATED}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
