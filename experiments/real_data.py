"""Part B3: real data — scikit-learn's breast-cancer (Wisconsin diagnostic, 569 × 30,
2 classes) and digits (1797 × 64, 10 classes) sets, plus MedMNIST ``.npz`` files
when present locally (nothing is downloaded).

Each dataset: shuffled 80/20 split, Dirichlet(0.5) over 5 clients, MLP with hidden
layers 128-64, 10 rounds, τ = 5; Standard FL and ZKFL-PQ (every parameter encrypted
and proven), each without attack and with the paper's Gaussian attacker (client 3
from round index 3).

MedMNIST: pass ``--medmnist PATH.npz`` (repeatable) or set ``ZKFLPQ_MEDMNIST_DIR``; if
no file is given, the MedMNIST row says "not present". A tiny generated ``.npz``
(random images, MedMNIST key layout) always runs through the same loader and pipeline
as a smoke test of the code path — it is labelled as such and is not a result.

    python -m experiments.real_data                # full → paper_results/real_data/
    python -m experiments.real_data --quick --out /tmp/d

``--quick`` (INSECURE_N256, hidden layer 16, 3 rounds) is a smoke test: ``"smoke_test":
true`` in ``results.json``, and the table, the figures and the printed summary say so.
"""

from __future__ import annotations

import argparse
import os
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
    smoke_banner,
    write_json,
)
from .federation import RunSpec, run_many

__all__ = ["make_fake_medmnist", "run", "main"]


def make_fake_medmnist(path: str | Path, *, n_train: int = 120, n_test: int = 40,
                       side: int = 28, n_classes: int = 3, seed: int = 0) -> Path:
    """Write a small MedMNIST-layout ``.npz`` (uint8 images, ``(n, 1)`` labels) whose
    classes differ by mean brightness of one quadrant (learnable)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("val", n_test // 2), ("test", n_test)):
        y = rng.integers(0, n_classes, n)
        img = rng.integers(0, 120, (n, side, side)).astype(np.int64)
        h = side // 2
        for c in range(n_classes):
            sel = y == c
            r0, c0 = (c % 2) * h, ((c // 2) % 2) * h
            img[sel, r0:r0 + h, c0:c0 + h] += 100
        arrays[f"{split}_images"] = np.clip(img, 0, 255).astype(np.uint8)
        arrays[f"{split}_labels"] = y.reshape(-1, 1).astype(np.uint8)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez(p, **arrays)
    return p


def _medmnist_files(given: list[Path]) -> list[Path]:
    files = [p for p in given if p.exists()]
    env = os.environ.get("ZKFLPQ_MEDMNIST_DIR")
    if env and Path(env).is_dir():
        files += sorted(Path(env).glob("*.npz"))
    return files


def run(quick: bool, out: Path, *, medmnist: list[Path] | None = None, workers: int = 2,
        log=print) -> dict[str, Any]:
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fed: dict[str, Any] = {"hidden": [16], "n_rounds": 3, "attack_start_round": 1} if quick \
        else {"hidden": [128, 64]}
    bfv = "INSECURE_N256" if quick else "DEFAULT"
    if quick:
        log(f"[real] {SMOKE_LABEL}")
    datasets: list[tuple[str, tuple[str, dict[str, Any]], str]] = [
        ("breast_cancer", ("breast_cancer", {}), "scikit-learn breast cancer (569 × 30, 2 cl.)"),
        ("digits", ("digits", {}), "scikit-learn digits (1797 × 64, 10 classes)"),
    ]
    fake = make_fake_medmnist(out / "generated_medmnist_smoke.npz")
    datasets.append(("medmnist_smoke_generated", ("medmnist", {"path": str(fake)}),
                     "GENERATED 28×28 3-class file: loader/pipeline smoke test, not a result"))
    found = _medmnist_files(list(medmnist or []))
    for p in found:
        datasets.append((f"medmnist_{p.stem}", ("medmnist", {"path": str(p)}),
                         f"MedMNIST {p.name}"))
    specs, keys = [], []
    for name, data, _ in datasets:
        smoke = name.startswith("medmnist_smoke")
        for cfg in ("standard", "zkflpq"):
            for attack in (("none",) if smoke else ("none", "gaussian")):
                f = dict(fed)
                if smoke:
                    f = {"hidden": [8], "n_rounds": 2, "attack_start_round": 1}
                if cfg == "standard":
                    f["clip_honest"] = False
                specs.append(RunSpec(
                    label=f"{name}/{cfg}/{attack}", config=cfg, attack=attack,
                    attack_kwargs={"std": 50.0} if attack == "gaussian" else {}, fed=f,
                    data=data, bfv="INSECURE_N256" if smoke else bfv, keep_rounds=False,
                ))
                keys.append((name, cfg, attack))
    log(f"[real] {len(specs)} runs on {workers} worker(s)")
    res = run_many(specs, workers=workers)
    table: dict[str, Any] = {}
    for (name, cfg, attack), r in zip(keys, res, strict=True):
        s = r["summary_ext"]
        table.setdefault(name, {})[f"{cfg}/{attack}"] = {
            "final_accuracy": s["final_accuracy"],
            "accuracy_per_round": s["accuracy_per_round"],
            "malicious_rejected_rate": s["malicious_rejected_rate"],
            "honest_rejected_rate": s["honest_rejected_rate"],
            "mean_round_time_s": s["mean_round_time_s"],
            "n_params": s["n_params"],
            "honest_norm_range": s["honest_norm_range"],
            "bytes_per_message_mean": s["bytes_per_message_mean"],
        }
    results = {
        "mode": "quick" if quick else "full",
        "smoke_test": quick,
        "datasets": [{"name": n, "description": d} for n, _, d in datasets],
        "results": table,
        "medmnist": (
            {"status": "present", "files": [str(p) for p in found]} if found else
            {"status": "not present", "note": "no MedMNIST .npz given (--medmnist PATH or "
             "ZKFLPQ_MEDMNIST_DIR); nothing is downloaded. The loader ran on a generated "
             "file (medmnist_smoke_generated)."}),
        "settings": {"fed": fed, "bfv": bfv, "tau": 5.0, "malicious_clients": [3],
                     "workers": workers},
        "machine": machine_info(),
        "elapsed_s": time.perf_counter() - t0,
        "command": "python -m experiments.real_data" + (" --quick" if quick else ""),
    }
    write_json(out / "results.json", results)
    (out / "table.md").write_text(table_markdown(results))
    figures(results, out)
    log(f"[real] wrote {out}/results.json ({results['elapsed_s']:.1f} s)"
        + (f" — {SMOKE_LABEL}" if quick else ""))
    return results


def table_markdown(r: dict[str, Any]) -> str:
    smoke = bool(r.get("smoke_test"))
    lines = [*([smoke_banner(smoke).rstrip("\n"), ""] if smoke else []),
             "| Dataset | Params | Standard FL, no attack | Standard FL, Gaussian attacker | "
             "ZKFL-PQ, no attack | ZKFL-PQ, Gaussian attacker | ZKFL-PQ malicious rejected | "
             "ZKFL-PQ honest rejected | Round time standard / ZKFL-PQ (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for ds in r["datasets"]:
        t = r["results"][ds["name"]]

        def acc(key: str, t: dict[str, Any] = t) -> str:
            return f"{100 * t[key]['final_accuracy']:.1f} %" if key in t else "–"

        zk = t.get("zkflpq/gaussian") or t["zkflpq/none"]
        mal = zk["malicious_rejected_rate"]
        lines.append(
            f"| {ds['name']} | {t['zkflpq/none']['n_params']:,} | {acc('standard/none')} | "
            f"{acc('standard/gaussian')} | {acc('zkflpq/none')} | {acc('zkflpq/gaussian')} | "
            f"{'–' if mal is None else f'{100 * mal:.0f} %'} | "
            f"{100 * zk['honest_rejected_rate']:.0f} % | "
            f"{t['standard/none']['mean_round_time_s']:.3f} / "
            f"{t['zkflpq/none']['mean_round_time_s']:.3f} |")
    return "\n".join(lines) + "\n"


def figures(r: dict[str, Any], out: Path) -> list[Path]:
    from . import plots

    files = []
    for ds in r["datasets"]:
        t = r["results"][ds["name"]]
        if "standard/gaussian" not in t:
            continue
        files.append(plots.accuracy_per_round(
            {k: v["accuracy_per_round"] for k, v in t.items()},
            out / f"accuracy_{ds['name']}.png",
            title=f"{ds['description']}: accuracy per round",
            attack_start=r["settings"]["fed"].get("attack_start_round", 3),
            smoke=bool(r.get("smoke_test"))))
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap, DEFAULT_OUT / "real_data")
    ap.add_argument("--medmnist", type=Path, action="append", default=[],
                    help="MedMNIST .npz file to include (repeatable)")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    r = run(a.quick, a.out, medmnist=a.medmnist, workers=a.workers)
    print(table_markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
