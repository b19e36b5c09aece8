"""Part B4: poisoning-attack suite with and without the proven norm bound.

Every attack of :mod:`zkflpq.fl.attacks` (plus an adaptive "Gaussian noise scaled to
the bound" variant) runs in the paper's setting (5 clients, 10 rounds, client 3
malicious from round index 3, τ = 5) under three defences:

- ``no_bound``: plain FedAvg, nothing checked, honest clients do not clip, the
  attacker is unconstrained (τ = ∞; the backdoor is then the boosted, unprojected
  update — model replacement).
- ``proven_bound``: the ZKFL-PQ pipeline with real BFV encryption of every parameter,
  real norm proofs and real verification at τ = 5 (:class:`~experiments.pipelines.
  ZkflPqPipeline`). Attackers whose update fits the bound prove it honestly; the others
  submit a forged proof (see the pipeline's docstring) and are rejected.
- ``plaintext_check``: the plaintext L2 check at τ = 5 on unencrypted updates — a
  cross-check only: it must make the same decisions as the proof.
- ``adaptive_bound``: the same ZKFL-PQ pipeline, but each round's τ comes from the
  adaptive rule (:class:`zkflpq.fl.adaptive_tau.AdaptiveTau`, defaults, ceiling 5):
  public information only — the norms of the decrypted past aggregates and their
  client counts. Honest clients clip to the round's τ; adaptive attackers scale to it.

Per cell: final accuracy, share of malicious updates rejected, honest updates
rejected (and, for the adaptive bound, honest updates clipped), backdoor success
(backdoor only), mean L2 norm of the malicious updates. An attack is *stopped* by a
defence when every malicious update is rejected, *neutralised* when it passes but the
final accuracy stays within :data:`NEUTRAL_ACCURACY_POINTS` of that defence's no-attack
run and (backdoor) its success stays below :data:`NEUTRAL_BACKDOOR`, else *harmful*.

    python -m experiments.attack_matrix            # full → paper_results/attacks/
    python -m experiments.attack_matrix --quick --out /tmp/a

``--quick`` (INSECURE_N256, tiny model, 3 rounds, 5 attacks) is a smoke test of the code
path: ``"smoke_test": true`` in ``results.json``, and the table, the figure and the
printed summary say so; its verdicts show the mechanics work, they are not findings.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from zkflpq.fl.adaptive_tau import AdaptiveTau

from .common import (
    DEFAULT_OUT,
    SMOKE_LABEL,
    add_common_args,
    machine_info,
    smoke_banner,
    write_json,
)
from .federation import RunSpec, run_many

__all__ = ["ATTACK_ROWS", "DEFENCES", "NEUTRAL_ACCURACY_POINTS", "NEUTRAL_BACKDOOR", "run",
           "main", "outcome"]

# (row label, attack name, kwargs, description)
ATTACK_ROWS: list[tuple[str, str, dict[str, Any], str]] = [
    ("none", "none", {}, "no attack (reference)"),
    ("gaussian", "gaussian", {"std": 50.0}, "N(0, 50²) noise per coordinate (the paper's)"),
    ("gaussian_at_bound", "bounded:gaussian", {"std": 50.0},
     "N(0, 50²) noise rescaled by the attacker to norm 0.999·τ (adaptive)"),
    ("scaling", "scaling", {}, "model replacement: honest update × n_clients (5)"),
    ("sign_flip", "sign_flip", {"scale": 5.0}, "−5 × honest update"),
    ("sign_flip_at_bound", "bounded:sign_flip", {"scale": 5.0},
     "sign flip rescaled by the attacker to norm 0.999·τ (adaptive, direction only)"),
    ("label_flip", "label_flip", {}, "trains on labels y → 3 − y"),
    ("alie", "alie", {}, "A Little Is Enough: μ − z_max·σ of the benign updates"),
    ("ipm", "ipm", {"epsilon": 10.0}, "inner-product manipulation: −10 × mean benign update"),
    ("ipm_at_bound", "bounded:ipm", {"epsilon": 10.0},
     "IPM rescaled by the attacker to norm 0.999·τ (adaptive, direction only)"),
    ("min_max", "min_max", {}, "Shejwalkar–Houmansadr min-max (unit-vector perturbation)"),
    ("min_sum", "min_sum", {}, "Shejwalkar–Houmansadr min-sum (unit-vector perturbation)"),
    ("backdoor", "backdoor", {"scale_to_bound": True},
     "constrain-and-scale backdoor: 4×4 trigger → class 0, boosted and scaled to ‖u‖ = τ"),
]

DEFENCES = ("no_bound", "proven_bound", "plaintext_check", "adaptive_bound")
NEUTRAL_ACCURACY_POINTS = 2.0
NEUTRAL_BACKDOOR = 0.5
# the adaptive runs' fixed-point scale: τ falls far below 5, so B = floor(τ·scale) needs a
# finer grid than the default 2^14 to keep the rounding error small against B
ADAPTIVE_SCALE = 2.0**16
ADAPTIVE_RULE = AdaptiveTau()  # the defaults; ceiling = τ with no history = 5, the paper's
QUICK_ATTACKS = ("none", "gaussian", "gaussian_at_bound", "scaling", "backdoor")


def _specs(quick: bool, full_proofs: bool = False
           ) -> tuple[list[tuple[str, str, RunSpec]], dict[str, Any]]:
    proofs = "all" if (quick or full_proofs) else "attackers"
    fed: dict[str, Any] = (
        {"hidden": [4], "n_rounds": 3, "attack_start_round": 1} if quick else {}
    )
    bfv = "INSECURE_N256" if quick else "DEFAULT"
    out = []
    for label, name, kw, _ in _rows(quick):
        for dfn in DEFENCES:
            if dfn == "no_bound":
                f = {**fed, "tau": math.inf, "clip_honest": False}
                akw = {**kw, "scale_to_bound": False} if name == "backdoor" else kw
                spec = RunSpec(label=f"{label}/{dfn}", config="standard", attack=name,
                               attack_kwargs=akw, fed=f, defence="none", keep_rounds=False)
            elif dfn == "proven_bound":
                spec = RunSpec(label=f"{label}/{dfn}", config="zkflpq", attack=name,
                               attack_kwargs=kw, fed=dict(fed), bfv=bfv, keep_rounds=False,
                               proofs=proofs)
            elif dfn == "adaptive_bound":
                f = {**fed, "tau_rule": ADAPTIVE_RULE.to_dict()}
                spec = RunSpec(label=f"{label}/{dfn}", config="zkflpq", attack=name,
                               attack_kwargs=kw, fed=f, bfv=bfv, keep_rounds=False,
                               proofs=proofs, scale=ADAPTIVE_SCALE)
            else:
                spec = RunSpec(label=f"{label}/{dfn}", config="standard", attack=name,
                               attack_kwargs=kw, fed=dict(fed), defence="norm_check",
                               keep_rounds=False)
            out.append((label, dfn, spec))
    return out, {"fed": fed, "bfv": bfv, "proofs": proofs}


def _rows(quick: bool) -> list[tuple[str, str, dict[str, Any], str]]:
    return [r for r in ATTACK_ROWS if not quick or r[0] in QUICK_ATTACKS]


def _cell(res: dict[str, Any]) -> dict[str, Any]:
    s = res["summary_ext"]
    mal = [n for n in s["malicious_norms"] if n is not None]
    return {
        "final_accuracy": s["final_accuracy"],
        "malicious_rejected_rate": s["malicious_rejected_rate"],
        "malicious_rejected": s["malicious_rejected"],
        "malicious_submissions": s["malicious_submissions"],
        "honest_rejected_rate": s["honest_rejected_rate"],
        "honest_rejected": s["honest_rejected"],
        "honest_submissions": s["honest_submissions"],
        "final_backdoor_success": s["final_backdoor_success"],
        "mean_malicious_norm": (sum(mal) / len(mal)) if mal else None,
        "max_malicious_norm": max(mal) if mal else None,
        "malicious_norm_non_finite": len(s["malicious_norms"]) - len(mal),
        "diverged": s["diverged"],
        "submissions_verified": s["submissions_verified"],
        "submissions_unverified": s["submissions_unverified"],
        "rejection_reasons": s["rejection_reasons"],
        "honest_clipped": s["honest_clipped"],
        "honest_clipped_rate": s["honest_clipped_rate"],
        "tau_per_round": s["tau_per_round"],
        "accuracy_per_round": s["accuracy_per_round"],
        "backdoor_per_round": s["backdoor_per_round"],
        "attack": res["attack"],
    }


def run(quick: bool, out: Path, *, workers: int = 2, full_proofs: bool = False,
        log=print) -> dict[str, Any]:
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs, st = _specs(quick, full_proofs)
    # the expensive proven runs first so both workers stay busy
    order = sorted(range(len(specs)),
                   key=lambda i: specs[i][1] not in ("proven_bound", "adaptive_bound"))
    if quick:
        log(f"[attacks] {SMOKE_LABEL}")
    log(f"[attacks] {len(specs)} runs on {workers} worker(s)")
    res = run_many([specs[i][2] for i in order], workers=workers)
    by_idx = dict(zip(order, res, strict=True))
    matrix: dict[str, dict[str, Any]] = {}
    for i, (label, dfn, _) in enumerate(specs):
        matrix.setdefault(label, {})[dfn] = _cell(by_idx[i])

    none_acc = {d: matrix["none"][d]["final_accuracy"] for d in DEFENCES}
    verdicts = []
    for label, _name, kw, desc in _rows(quick):
        if label == "none":
            continue
        pb = matrix[label]["proven_bound"]
        nb = matrix[label]["no_bound"]
        pc = matrix[label]["plaintext_check"]
        ab = matrix[label]["adaptive_bound"]
        passed = pb["malicious_submissions"] - pb["malicious_rejected"]
        passed_ab = ab["malicious_submissions"] - ab["malicious_rejected"]
        verdicts.append({
            "attack": label,
            "description": desc,
            "params": kw,
            "passes_proven_bound": passed > 0,
            "malicious_accepted": passed,
            "malicious_submissions": pb["malicious_submissions"],
            "accuracy_drop_no_bound_points": 100 * (none_acc["no_bound"] - nb["final_accuracy"]),
            "accuracy_drop_proven_bound_points": 100 * (
                none_acc["proven_bound"] - pb["final_accuracy"]),
            "backdoor_success_no_bound": nb["final_backdoor_success"],
            "backdoor_success_proven_bound": pb["final_backdoor_success"],
            "passes_adaptive_bound": passed_ab > 0,
            "malicious_accepted_adaptive": passed_ab,
            "accuracy_drop_adaptive_bound_points": 100 * (
                none_acc["adaptive_bound"] - ab["final_accuracy"]),
            "backdoor_success_adaptive_bound": ab["final_backdoor_success"],
            "honest_clipped_rate_adaptive_bound": ab["honest_clipped_rate"],
            "outcome_proven_bound": outcome(pb, none_acc["proven_bound"]),
            "outcome_adaptive_bound": outcome(ab, none_acc["adaptive_bound"]),
            "proof_and_plaintext_check_agree": (
                pb["malicious_rejected"] == pc["malicious_rejected"]
                and pb["honest_rejected"] == pc["honest_rejected"]),
        })
    results = {
        "mode": "quick" if quick else "full",
        "smoke_test": quick,
        "defences": {
            "no_bound": "plain FedAvg, no check, τ = ∞ (attacker unconstrained)",
            "proven_bound": "ZKFL-PQ: BFV-encrypted updates + real norm proof verified at τ "
                            "(proofs: " + st["proofs"] + ")",
            "plaintext_check": "plaintext L2 check at τ (cross-check of the proof's decisions)",
            "adaptive_bound": "ZKFL-PQ with τ from the adaptive rule (past aggregates' norms "
                              "and client counts; floor/ceiling), proofs: " + st["proofs"],
        },
        "adaptive_rule": ADAPTIVE_RULE.to_dict(),
        "adaptive_scale": ADAPTIVE_SCALE,
        "attacks": [{"label": a, "attack": n, "params": kw, "description": d}
                    for a, n, kw, d in _rows(quick)],
        "matrix": matrix,
        "verdicts": verdicts,
        "passes_norm_bound": [v["attack"] for v in verdicts if v["passes_proven_bound"]],
        "stopped_by_norm_bound": [v["attack"] for v in verdicts if not v["passes_proven_bound"]],
        "outcomes": {d: {o: [v["attack"] for v in verdicts if v[f"outcome_{d}"] == o]
                         for o in ("stopped", "neutralised", "harmful")}
                     for d in ("proven_bound", "adaptive_bound")},
        "settings": {**st, "tau": 5.0, "malicious_clients": [3], "workers": workers},
        "machine": machine_info(),
        "elapsed_s": time.perf_counter() - t0,
        "command": "python -m experiments.attack_matrix" + (" --quick" if quick else "")
                   + (" --full-proofs" if full_proofs else ""),
    }
    write_json(out / "results.json", results)
    (out / "table.md").write_text(table_markdown(results))
    figures(results, out)
    log(f"[attacks] wrote {out}/results.json ({results['elapsed_s']:.1f} s)"
        + (f" — {SMOKE_LABEL}" if quick else ""))
    return results


def outcome(cell: dict[str, Any], no_attack_accuracy: float) -> str:
    """stopped (every malicious update rejected) / neutralised (passes, but accuracy and
    backdoor stay near the no-attack run) / harmful."""
    if cell["malicious_submissions"] and cell["malicious_rejected"] == cell[
            "malicious_submissions"]:
        return "stopped"
    drop = 100 * (no_attack_accuracy - cell["final_accuracy"])
    bd = cell["final_backdoor_success"]
    # accuracies are multiples of 1/len(test set): 1.0 − 0.98 must count as 2 points, not
    # as 2.0000000000000018
    if drop <= NEUTRAL_ACCURACY_POINTS + 1e-9 and (bd is None or bd < NEUTRAL_BACKDOOR):
        return "neutralised"
    return "harmful"


def _f(x: float | None, pct: bool = True) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.1f}" if pct else f"{x:.3g}"


def table_markdown(r: dict[str, Any]) -> str:
    m = r["matrix"]
    smoke = bool(r.get("smoke_test"))
    lines = [
        *([smoke_banner(smoke).rstrip("\n"), ""] if smoke else []),
        "| Attack | Final acc. no bound (%) | Final acc. τ = 5 (%) | Malicious rejected, τ = 5 "
        "| Honest rejected, τ = 5 | Final acc. adaptive τ (%) | Malicious rejected, adaptive "
        "| Honest rejected / clipped, adaptive | Backdoor success no bound / τ = 5 / adaptive "
        "(%) | Mean ‖malicious update‖ τ = 5 / adaptive | Outcome τ = 5 | Outcome adaptive |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = {v["attack"]: v for v in r["verdicts"]}

    def frac(a: int, b: int) -> str:
        return f"{a}/{b}" if b else "–"

    def norm(x: float | None) -> str:
        return "–" if x is None else f"{x:.3g}"

    for a in r["attacks"]:
        label = a["label"]
        nb, pb, ab = (m[label][d] for d in ("no_bound", "proven_bound", "adaptive_bound"))
        bd = ("–" if pb["final_backdoor_success"] is None
              else f"{_f(nb['final_backdoor_success'])} / {_f(pb['final_backdoor_success'])}"
                   f" / {_f(ab['final_backdoor_success'])}")
        v = verdicts.get(label)
        clipped = ab.get("honest_clipped")
        lines.append(
            f"| {label} | {_f(nb['final_accuracy'])} | {_f(pb['final_accuracy'])} | "
            f"{frac(pb['malicious_rejected'], pb['malicious_submissions'])} | "
            f"{pb['honest_rejected']}/{pb['honest_submissions']} | {_f(ab['final_accuracy'])} | "
            f"{frac(ab['malicious_rejected'], ab['malicious_submissions'])} | "
            f"{ab['honest_rejected']} / {'–' if clipped is None else clipped} of "
            f"{ab['honest_submissions']} | {bd} | "
            f"{norm(pb['mean_malicious_norm'])} / {norm(ab['mean_malicious_norm'])} | "
            f"{'–' if v is None else v['outcome_proven_bound']} | "
            f"{'–' if v is None else v['outcome_adaptive_bound']} |")
    rule = r.get("adaptive_rule", {})
    taus = m.get("none", {}).get("adaptive_bound", {}).get("tau_per_round") or []
    lines += [
        "",
        f"Adaptive τ: rule `{rule.get('rule')}` (multiplier {rule.get('multiplier')}, floor "
        f"{rule.get('floor')}, ceiling {rule.get('ceiling')}, window {rule.get('window')}); "
        "τ per round without attack: " + ", ".join(f"{t:.3g}" for t in taus) + ".",
        f"Outcome: *stopped* = every malicious update rejected; *neutralised* = accepted, "
        f"but final accuracy within {NEUTRAL_ACCURACY_POINTS:g} points of the same "
        f"defence's no-attack run and backdoor success below {100 * NEUTRAL_BACKDOOR:.0f} %; "
        "*harmful* otherwise.",
    ]
    return "\n".join(lines) + "\n"


def figures(r: dict[str, Any], out: Path) -> list[Path]:
    from . import plots

    rows = [a["label"] for a in r["attacks"]]
    m = r["matrix"]
    shown = ("no_bound", "proven_bound", "adaptive_bound")
    names = {"no_bound": "no bound", "proven_bound": "proven τ=5",
             "adaptive_bound": "proven, adaptive τ"}
    acc = [[m[a][d]["final_accuracy"] for d in shown] for a in rows]
    rej = [[m[a][d]["malicious_rejected_rate"] for d in shown[1:]] for a in rows]
    bd = [[m[a][d]["final_backdoor_success"] for d in shown] for a in rows]
    cols = ([f"acc: {names[d]}" for d in shown] + [f"rejected: {names[d]}" for d in shown[1:]]
            + [f"backdoor: {names[d]}" for d in shown])
    mat = [a + r_ + b for a, r_, b in zip(acc, rej, bd, strict=True)]
    return [plots.heatmap(
        mat, rows, cols, out / "attack_matrix.png", invert_cols=(5, 6, 7),
        title="Attack matrix (%): final accuracy, malicious updates rejected, backdoor success "
              "(n/a: not applicable; green = good for the defender)",
        smoke=bool(r.get("smoke_test")))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap, DEFAULT_OUT / "attacks")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--full-proofs", action="store_true",
                    help="prove every submission (honest ones too) in the proven-bound runs")
    a = ap.parse_args(argv)
    r = run(a.quick, a.out, workers=a.workers, full_proofs=a.full_proofs)
    print(table_markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
