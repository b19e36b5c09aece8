"""Part B7: the overhead factor against the amount of local training.

The crypto cost of a ZKFL-PQ round (encrypt, prove, seal, open, verify, decrypt)
depends on the model size d, not on how much a client trains; standard FL's round is
almost all local training. The headline factor (~30–40× on the paper's workload: 160
samples per client, 3 epochs, ~7 ms of training per client) therefore falls as the
training grows. This script measures the curve.

Sweep: samples per client 200 → 20,000 and local epochs 1 → 10 for the paper's MLP
(784-128-64-4, 108,996 parameters) and the small CNN (46,340 parameters), a chosen
subset of the grid (see :data:`SWEEP`). At every point three configurations run back to
back in this process on the same data, clients one after another, no attack:
``standard`` (plaintext FedAvg), ``zkflpq`` scope ``full`` (every parameter encrypted and
proven) and scope ``paper`` (the paper's prefix: 512 encrypted, 256 proven, the rest
plaintext). Real proofs for every submission, BFV ``DEFAULT``; the numba kernels are
compiled before anything is timed; every round is kept (none dropped as warm-up).

The test set is held at :data:`TEST_SAMPLES` samples at every point so that only the
training grows with the workload (evaluation is part of every round).

    python -m experiments.workload                 # full → paper_results/workload/
    python -m experiments.workload --quick --out /tmp/w

``--quick`` (INSECURE_N256, tiny points, MLP with one hidden layer of 4) is a smoke
test: ``"smoke_test": true`` in ``results.json``; the table, the figure and the printed
summary say so.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import (
    CRYPTO_PHASES,
    DEFAULT_OUT,
    SMOKE_LABEL,
    add_common_args,
    machine_info,
    median,
    paper_data,
    smoke_banner,
    write_json,
)
from .federation import RunSpec, run_config

__all__ = [
    "CONFIGS",
    "SWEEP",
    "THRESHOLDS",
    "crossing",
    "log_log_crossing",
    "main",
    "run",
    "table_markdown",
]

# (samples per client, local epochs) per model. Chosen from measured training costs on
# a 2-core machine (MLP ≈ 10 µs, CNN ≈ 75 µs per sample-epoch with its faster thread
# count) to span ~0.01 s → ~10 s of training per round within a 10-minute run; the
# full grid (3 × 3 × 2 points) would take about three times as long. The CNN's epochs
# stop at 3: CNN 2,000×10 costs as much training as 20,000×1 (~12 s per round, over
# 100 s for its nine rounds) and the MLP already covers 10 epochs.
SWEEP: dict[str, list[tuple[int, int]]] = {
    "mlp": [(200, 1), (2000, 1), (2000, 3), (20000, 1), (2000, 10), (20000, 10)],
    "cnn": [(200, 1), (2000, 1), (2000, 3), (20000, 1)],
}
SWEEP_QUICK: dict[str, list[tuple[int, int]]] = {
    "mlp": [(40, 1), (400, 1), (400, 3)],
    "cnn": [(40, 1), (200, 1)],
}
# (label, configuration, zkflpq scope); the first one is the baseline of every factor
CONFIGS: tuple[tuple[str, str, str], ...] = (
    ("standard", "standard", "full"),
    ("full", "zkflpq", "full"),
    ("paper", "zkflpq", "paper"),
)
SCOPE_NAMES = {"full": "ZKFL-PQ, every parameter", "paper": "ZKFL-PQ, paper scope"}
MODEL_NAMES = {"mlp": "MLP", "cnn": "CNN"}
THRESHOLDS = (2.0, 1.2)
# factor kinds: round wall clock, process CPU time, and standard FL's round + the
# configuration's own protection phases (see measure_point)
FACTOR_KINDS = ("wall", "cpu", "phases")
KIND_NAMES = {"wall": "wall clock", "cpu": "CPU time", "phases": "phase sum"}
N_CLIENTS = 5
TRAIN_FRACTION = 0.8  # paper_data: the first 80 % of n_samples are the training part
TEST_SAMPLES = 200  # the paper's test-set size (20 % of 1000), held fixed over the sweep


# -- crossings ---------------------------------------------------------------------------
def log_log_crossing(x0: float, y0: float, x1: float, y1: float, threshold: float) -> float:
    """x at which the straight line through (x0, y0), (x1, y1) in log-log coordinates
    reaches ``threshold`` (the y's must lie on both sides of it; all values > 0)."""
    if min(x0, x1, y0, y1, threshold) <= 0:
        raise ValueError("log-log interpolation needs positive values")
    if not (min(y0, y1) <= threshold <= max(y0, y1)) or y0 == y1:
        raise ValueError(f"threshold {threshold} not between {y0} and {y1}")
    lx0, lx1, ly0, ly1 = (math.log(v) for v in (x0, x1, y0, y1))
    frac = (math.log(threshold) - ly0) / (ly1 - ly0)
    return math.exp(lx0 + frac * (lx1 - lx0))


def crossing(xs: Sequence[float], factors: Sequence[float], threshold: float,
             *, crypto_s: float | None = None) -> dict[str, Any]:
    """Training seconds per round above which the overhead factor stays below
    ``threshold``.

    Points are sorted by x; the crossing is interpolated (log-log) between the last
    point at or above the threshold and the next one, so one noisy dip below it at
    small x is not taken for the crossing. ``status``: ``measured``, ``not_reached``
    (every point at or above: ``train_s`` is ``None``) or ``below_measured_range``
    (every point already below). ``model_train_s`` = crypto_s / (threshold − 1): where
    a constant crypto cost per round puts the crossing — an extrapolation, not a
    measurement, unless it agrees with ``train_s``.
    """
    pts = sorted(zip(xs, factors, strict=True))
    above = [i for i, (_, f) in enumerate(pts) if f >= threshold]
    out: dict[str, Any] = {"threshold": threshold, "train_s": None, "between_train_s": None}
    if not above:
        out["status"] = "below_measured_range"
    elif above[-1] == len(pts) - 1:
        out["status"] = "not_reached"
    else:
        i = above[-1]
        (x0, f0), (x1, f1) = pts[i], pts[i + 1]
        out["status"] = "measured"
        out["train_s"] = log_log_crossing(x0, f0, x1, f1, threshold)
        out["between_train_s"] = [x0, x1]
    out["model_train_s"] = (crypto_s / (threshold - 1.0)
                            if crypto_s is not None and crypto_s > 0 else None)
    return out


# -- measurement -------------------------------------------------------------------------
def n_samples_total(samples_per_client: int) -> int:
    """paper_data's ``n_samples`` (total before the 80/20 split and the Dirichlet split
    over the clients) that gives ``samples_per_client`` training samples on average."""
    return math.ceil(samples_per_client * N_CLIENTS / TRAIN_FRACTION)


def make_point_data(samples_per_client: int, seed: int = 42):
    """Clients (Dirichlet split, as in the paper) and a test set of TEST_SAMPLES."""
    from zkflpq.fl.data import Dataset

    clients, test = paper_data(n_clients=N_CLIENTS, n_samples=n_samples_total(
        samples_per_client), seed=seed)
    k = min(TEST_SAMPLES, len(test))
    test = Dataset(test.X[:k], test.y[:k], test.n_classes, test.name)
    return clients, test


def summarise_config(res: dict[str, Any]) -> dict[str, Any]:
    s = res["summary_ext"]
    ph = s["mean_phase_s"]
    return {
        "mean_round_time_s": s["mean_round_time_s"],
        "mean_round_cpu_s": s["mean_round_cpu_s"],
        "round_times_s": s["round_times_s"],
        "train_s": ph.get("train"),
        "evaluate_s": ph.get("evaluate"),
        "aggregate_s": ph.get("aggregate"),
        "crypto_phases_s": sum(ph.get(k, 0.0) or 0.0 for k in CRYPTO_PHASES),
        "mean_phase_s": ph,
        "bytes_per_message_mean": s["bytes_per_message_mean"],
        "submissions_verified": s["submissions_verified"],
        "honest_rejected": s["honest_rejected"],
        "final_accuracy": s["final_accuracy"],
    }


def measure_point(model: str, samples_per_client: int, epochs: int, data: Any, *,
                  hidden: Sequence[int], bfv: str, n_rounds: int, log=print) -> dict[str, Any]:
    """The three configurations back to back on the same data; factors vs standard."""
    from zkflpq.fl.training import configure_threads

    clients, test = data

    def run(label: str, config: str, scope: str) -> dict[str, Any]:
        fed = {"n_rounds": n_rounds, "local_epochs": epochs, "model": model,
               "hidden": list(hidden), "n_clients": N_CLIENTS, "malicious_clients": [],
               "attack_start_round": 99, "clip_honest": config != "standard"}
        spec = RunSpec(label=f"{model}/{samples_per_client}x{epochs}/{label}", config=config,
                       attack="none", fed=fed, bfv=bfv, scope=scope, proofs="all",
                       keep_rounds=False,
                       # what paper_data was called with; the test set is then cut to
                       # TEST_SAMPLES (make_point_data)
                       data=("synthetic", {"n_samples": n_samples_total(samples_per_client)}))
        return run_config(spec, data=(clients, test))

    # The baseline is standard FL as fast as this machine runs it: with 1 and with 2
    # torch threads (which wins depends on the data size and the load), the faster run
    # is the baseline and its thread count trains in the protected runs too.
    by_threads: dict[int, dict[str, Any]] = {}
    for count in range(1, min(2, os.cpu_count() or 1) + 1):
        configure_threads(count)
        res = run("standard", "standard", "full")
        by_threads[count] = summarise_config(res)
        n_params = res["n_params"]
    threads = min(by_threads, key=lambda c: by_threads[c]["mean_round_time_s"])
    probe = {"chosen": threads,
             "standard_round_s_by_threads": {str(c): v["mean_round_time_s"]
                                             for c, v in by_threads.items()}}
    configure_threads(threads)
    configs: dict[str, Any] = {"standard": by_threads[threads]}
    for label, config, scope in CONFIGS:
        if config == "standard":
            continue
        configs[label] = summarise_config(run(label, config, scope))
    std = configs["standard"]
    for c in configs.values():
        c["factor_wall"] = c["mean_round_time_s"] / std["mean_round_time_s"]
        c["factor_cpu"] = (c["mean_round_cpu_s"] / std["mean_round_cpu_s"]
                           if c["mean_round_cpu_s"] and std["mean_round_cpu_s"] else None)
        c["extra_round_s"] = c["mean_round_time_s"] - std["mean_round_time_s"]
        # the same factor built from standard FL's round plus this configuration's own
        # protection phases: insensitive to the training time differing between the
        # runs (other load on a shared machine), a cross-check of factor_wall
        c["factor_phases"] = 1.0 + (c["crypto_phases_s"] + (c["aggregate_s"] or 0.0)
                                    - (std["aggregate_s"] or 0.0)) / std["mean_round_time_s"]
    # how much the training itself varied between the three back-to-back runs (other
    # load on the machine): the part of factor_wall that is not the crypto
    train_spread = max(abs(c["train_s"] - std["train_s"]) for c in configs.values()) / std[
        "train_s"]
    sizes = [len(c) for c in clients]
    point = {
        "model": model,
        "n_params": n_params,
        "samples_per_client": samples_per_client,
        "client_samples": {"min": min(sizes), "mean": sum(sizes) / len(sizes),
                           "max": max(sizes)},
        "local_epochs": epochs,
        "training_threads": threads,
        "training_thread_probe": probe,
        # the x of the curve: standard FL's local training, summed over the clients
        "train_s_per_round": std["train_s"],
        "train_spread_between_runs": train_spread,
        "configs": configs,
    }
    log(f"[workload] {model} {samples_per_client}×{epochs} ({threads} training thread(s)): "
        f"train {std['train_s']:.3f} s/round, "
        f"standard {std['mean_round_time_s']:.3f} s, full {configs['full']['factor_wall']:.2f}×, "
        f"paper {configs['paper']['factor_wall']:.2f}×")
    return point


def crossings(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Per model and scope, per factor kind and threshold: where the factor crosses it,
    against the training seconds per round. The extrapolation uses the median extra
    seconds per round over the model's points (wall: round − standard round; phases:
    the protection phases); none for CPU time, whose seconds are not wall seconds."""
    out: dict[str, Any] = {}
    for model in dict.fromkeys(p["model"] for p in points):
        pts = [p for p in points if p["model"] == model]
        xs = [p["train_s_per_round"] for p in pts]
        for scope in ("full", "paper"):
            extra = {
                "wall": median([p["configs"][scope]["extra_round_s"] for p in pts]),
                "phases": median([(p["configs"][scope]["factor_phases"] - 1.0)
                                  * p["configs"]["standard"]["mean_round_time_s"]
                                  for p in pts]),
                "cpu": None,
            }
            entry: dict[str, Any] = {"crypto_extra_round_s_median": extra["wall"],
                                     "crypto_phases_s_median": extra["phases"]}
            for kind in FACTOR_KINDS:
                fs = [p["configs"][scope][f"factor_{kind}"] for p in pts]
                if any(f is None for f in fs):
                    continue
                entry[kind] = {f"{t:g}x": crossing(xs, fs, t, crypto_s=extra[kind])
                               for t in THRESHOLDS}
            out[f"{model}/{scope}"] = entry
    return out


def run(quick: bool, out: Path, log=print) -> dict[str, Any]:
    from zkflpq.fl.model import PAPER_HIDDEN
    from zkflpq.fl.training import configure_threads

    from .reproduce_paper import warm_up

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bfv = "INSECURE_N256" if quick else "DEFAULT"
    n_rounds = 2 if quick else 3
    sweep = SWEEP_QUICK if quick else SWEEP
    hidden: tuple[int, ...] = (4,) if quick else PAPER_HIDDEN
    if quick:
        log(f"[workload] {SMOKE_LABEL}")
    warm_up(bfv)
    data_cache: dict[int, Any] = {}
    points = []
    try:
        for model, grid in sweep.items():
            for spc, epochs in grid:
                if spc not in data_cache:
                    data_cache[spc] = make_point_data(spc)
                points.append(measure_point(model, spc, epochs, data_cache[spc],
                                            hidden=hidden, bfv=bfv, n_rounds=n_rounds,
                                            log=log))
    finally:
        configure_threads(1)  # the training module's default
    results = {
        "mode": "quick" if quick else "full",
        "smoke_test": quick,
        "bfv_params": bfv,
        "settings": {
            "n_clients": N_CLIENTS, "rounds": n_rounds, "rounds_dropped": 0,
            "round_statistic": "mean over all rounds of the run",
            "hidden": list(hidden), "sweep": {m: [list(p) for p in g] for m, g in sweep.items()},
            "test_samples": TEST_SAMPLES, "train_fraction": TRAIN_FRACTION,
            "data": "paper_data (synthetic 4-class, 784 features, seed 42, Dirichlet(0.5)); "
                    "n_samples = ceil(samples_per_client · 5 / 0.8)",
            "attack": "none", "proofs": "all", "prove_verify_threads": os.cpu_count(),
            "training_threads": {m: [p["training_threads"] for p in points
                                     if p["model"] == m] for m in sweep},
            "training_threads_rule": ("per point: standard FL runs with 1 and with 2 torch "
                                      "threads; the faster is the baseline, and its thread "
                                      "count trains in the protected runs"),
            "thresholds": list(THRESHOLDS),
            "crypto_phases": list(CRYPTO_PHASES),
        },
        "points": points,
        "crossings": crossings(points),
        "machine": machine_info(),
        "elapsed_s": time.perf_counter() - t0,
        "command": "python -m experiments.workload" + (" --quick" if quick else ""),
    }
    write_json(out / "results.json", results)
    (out / "table.md").write_text(table_markdown(results))
    figure(results, out)
    log(f"[workload] wrote {out}/results.json ({results['elapsed_s']:.1f} s)"
        + (f" — {SMOKE_LABEL}" if quick else ""))
    return results


# -- output ------------------------------------------------------------------------------
def _crossing_text(c: dict[str, Any]) -> str:
    if c["status"] == "measured":
        lo, hi = c["between_train_s"]
        return f"{c['train_s']:.3g} s (between {lo:.3g} and {hi:.3g} s)"
    est = c.get("model_train_s")
    extra = (f"; extrapolated from the constant crypto cost: ≈ {est:.3g} s" if est else "")
    if c["status"] == "not_reached":
        return "not reached in the measured range" + extra
    return "already below at the smallest workload" + extra


def crossings_markdown(r: dict[str, Any]) -> str:
    lines = ["| Model / protection | factor | extra s per round (median) | factor < 2× from "
             "(training s per round) | factor < 1.2× from (training s per round) |",
             "|---|---|---|---|---|"]
    for key, e in r["crossings"].items():
        model, scope = key.split("/")
        extra = {"wall": e["crypto_extra_round_s_median"],
                 "phases": e.get("crypto_phases_s_median"), "cpu": None}
        for kind in FACTOR_KINDS:
            if kind not in e:
                continue
            c = e[kind]
            x = extra[kind]
            lines.append(f"| {MODEL_NAMES[model]} / {SCOPE_NAMES[scope]} | {KIND_NAMES[kind]} | "
                         f"{'–' if x is None else f'{x:.3f}'} | {_crossing_text(c['2x'])} | "
                         f"{_crossing_text(c['1.2x'])} |")
    return "\n".join(lines) + "\n"


def table_markdown(r: dict[str, Any]) -> str:
    smoke = bool(r.get("smoke_test"))
    lines = [*([smoke_banner(smoke).rstrip("\n"), ""] if smoke else []),
             "| Model (params) | samples/client | epochs | training s/round | standard s/round "
             "| full s/round | full × (wall / CPU / phases) | paper-scope s/round | "
             "paper-scope × (wall / CPU / phases) | training spread between runs |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in r["points"]:
        c = p["configs"]

        def fx(cfg: dict[str, Any]) -> str:
            cpu = cfg["factor_cpu"]
            return (f"{cfg['factor_wall']:.2f} / " + ("n/a" if cpu is None else f"{cpu:.2f}")
                    + f" / {cfg['factor_phases']:.2f}")

        lines.append(
            f"| {MODEL_NAMES[p['model']]} ({p['n_params']:,}) | {p['samples_per_client']:,} | "
            f"{p['local_epochs']} | {p['train_s_per_round']:.3f} | "
            f"{c['standard']['mean_round_time_s']:.3f} | {c['full']['mean_round_time_s']:.3f} | "
            f"{fx(c['full'])} | {c['paper']['mean_round_time_s']:.3f} | {fx(c['paper'])} | "
            f"{100 * p['train_spread_between_runs']:.0f} % |")
    lines += ["", crossings_markdown(r).rstrip("\n")]
    return "\n".join(lines) + "\n"


def figure(r: dict[str, Any], out: Path) -> Path:
    from . import plots

    series: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    cpu: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for scope in ("full", "paper"):
        for model in dict.fromkeys(p["model"] for p in r["points"]):
            pts = sorted((p["train_s_per_round"], p["configs"][scope]["factor_wall"],
                          p["configs"][scope]["factor_cpu"])
                         for p in r["points"] if p["model"] == model)
            key = (SCOPE_NAMES[scope], MODEL_NAMES[model])
            series[key] = ([x for x, _, _ in pts], [y for _, y, _ in pts])
            cpu[key] = ([x for x, _, c in pts if c], [c for _, _, c in pts if c])
    return plots.factor_vs_workload(
        series, out / "overhead_vs_training.png", thresholds=THRESHOLDS, secondary=cpu,
        secondary_label="open markers: the same points by CPU time of the process",
        title=f"Overhead factor vs local training ({N_CLIENTS} clients, {r['bfv_params']}, "
              "wall clock)",
        xlabel="standard FL local training per round, all clients (s)",
        ylabel="overhead factor vs standard FL (×)", smoke=bool(r.get("smoke_test")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap, DEFAULT_OUT / "workload")
    a = ap.parse_args(argv)
    print(table_markdown(run(a.quick, a.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
