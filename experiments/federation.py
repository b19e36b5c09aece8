"""Run one federation under one configuration and summarise it.

:func:`run_config` wires a :mod:`experiments.pipelines` pipeline into
:func:`zkflpq.fl.simulation.run_federation` and adds the numbers every experiment
reports: mean round time, per-phase means, rejection rates (from the server's
decisions only), bytes per client message, final accuracy.

:func:`run_many` runs independent federations in worker processes (used for the
ablations and the attack matrix, whose timings are not headline numbers).
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .common import mean
from .pipelines import make_pipeline

__all__ = ["RunSpec", "run_config", "run_many", "summarise"]


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one federation run (picklable, for worker processes).

    data: ``("synthetic", kwargs)`` → :func:`experiments.common.paper_data`, or
    ``("breast_cancer"|"digits", {"n_clients": .., "seed": ..})``, or
    ``("medmnist", {"path": .., "n_clients": ..})``.
    """

    label: str
    config: str  # standard | mlkem | zkflpq
    attack: str = "gaussian"
    attack_kwargs: dict[str, Any] = field(default_factory=dict)
    fed: dict[str, Any] = field(default_factory=dict)  # FederationConfig overrides
    data: tuple[str, dict[str, Any]] = ("synthetic", {})
    bfv: str = "DEFAULT"  # DEFAULT | INSECURE_N256
    kem: str = "mlkem768"
    defence: str = "auto"  # auto (per config) | none | norm_check
    keep_rounds: bool = True
    proofs: str = "all"  # zkflpq: "all" submissions proven, or "attackers" only (budget)
    scope: str = "full"  # zkflpq: "full" (every parameter) or "paper" (the paper's prefix)
    threads: int | None = None  # zkflpq prove/verify worker threads (None: every core)
    scale: float | None = None  # zkflpq fixed-point scale (None: pipelines.DEFAULT_SCALE)


def _load_data(spec: RunSpec, n_clients: int):
    from .common import paper_data, real_split

    kind, kw = spec.data
    if kind == "synthetic":
        return paper_data(n_clients=n_clients, **kw)
    from zkflpq.fl import data as fld

    if kind == "breast_cancer":
        return real_split(fld.load_breast_cancer(), n_clients, **kw)
    if kind == "digits":
        return real_split(fld.load_digits(), n_clients, **kw)
    if kind == "medmnist":
        kw = dict(kw)
        path = kw.pop("path")
        train = fld.load_medmnist_npz(path, "train")
        test = fld.load_medmnist_npz(path, "test", n_classes=train.n_classes)
        clients = fld.dirichlet_split(train, n_clients, kw.get("alpha", 0.5),
                                      seed=kw.get("seed", 42),
                                      min_samples=kw.get("min_samples", 5))
        return clients, test
    raise ValueError(f"unknown data kind {kind!r}")


class BoundedAttack:
    """Adaptive variant of an attack: the attacker knows τ and scales its update down to
    the bound (‖u‖ = τ·(1 − margin)), so it passes any norm check/proof at τ."""

    def __new__(cls, inner_name: str, margin: float = 1e-3, **kwargs: Any):
        from zkflpq.fl.attacks import Attack, make_attack
        from zkflpq.fl.training import l2_norm

        inner = make_attack(inner_name, **kwargs)

        class _Bounded(type(inner)):  # type: ignore[misc]
            name = f"bounded_{inner.name}"

            def poison_update(self, honest_update, ctx):
                u = super().poison_update(honest_update, ctx)
                if ctx.tau is None or not np.isfinite(ctx.tau):
                    return u
                n = l2_norm(u)
                r = ctx.tau * (1.0 - margin)
                return (u.astype(np.float64) * (r / n)).astype(np.float32) if n > 0 else u

        obj = _Bounded.__new__(_Bounded)
        obj.__dict__.update(inner.__dict__)
        obj.margin = margin
        assert isinstance(obj, Attack)
        return obj


def make_attack_spec(name: str, kwargs: dict[str, Any]):
    """``make_attack`` plus ``bounded:<name>`` (see :class:`BoundedAttack`)."""
    from zkflpq.fl.attacks import make_attack

    if name.startswith("bounded:"):
        return BoundedAttack(name.split(":", 1)[1], **kwargs)
    return make_attack(name, **kwargs)


def _bfv(name: str):
    from zkflpq import bfv

    return {"DEFAULT": bfv.DEFAULT, "INSECURE_N256": bfv.INSECURE_N256,
            "INSECURE_N64": bfv.INSECURE_N64}[name]


def run_config(spec: RunSpec, *, data: Any = None) -> dict[str, Any]:
    """Run one federation; returns run_federation's dict plus ``summary_ext``."""
    from zkflpq.fl.simulation import FederationConfig, no_defence, norm_check, run_federation

    fed = dict(spec.fed)
    if "hidden" in fed:
        fed["hidden"] = tuple(fed["hidden"])
    if "malicious_clients" in fed:
        fed["malicious_clients"] = tuple(fed["malicious_clients"])
    cfg = FederationConfig(**fed)
    clients, test = data if data is not None else _load_data(spec, cfg.n_clients)
    attack = make_attack_spec(spec.attack, spec.attack_kwargs)
    malicious = frozenset(cfg.malicious_clients)
    attacking = spec.attack != "none"

    def is_attacker(k: int, r: int) -> bool:
        return attacking and k in malicious and r >= cfg.attack_start_round

    pipe = make_pipeline(
        spec.config,
        params=_bfv(spec.bfv) if spec.config == "zkflpq" else None,
        tau=cfg.tau,
        is_attacker=is_attacker,
        kem=spec.kem,
        **({"proofs": spec.proofs, "scope": spec.scope, "threads": spec.threads,
            **({"scale": spec.scale} if spec.scale else {})}
           if spec.config == "zkflpq" else {}),
    )
    hooks = pipe.hooks()
    if spec.defence == "none":
        hooks["defence"] = no_defence
    elif spec.defence == "norm_check":
        hooks["defence"] = norm_check()  # each round's own τ
    pipe.start_clock()
    res = run_federation(clients, test, cfg, attack=attack, on_round=pipe.on_round, **hooks)
    res["label"] = spec.label
    res["configuration"] = spec.config
    res["bfv_params"] = spec.bfv if spec.config == "zkflpq" else None
    res["kem"] = spec.kem if spec.config != "standard" else None
    res["defence"] = spec.defence
    res["proofs"] = spec.proofs if spec.config == "zkflpq" else None
    res["scope"] = spec.scope if spec.config == "zkflpq" else None
    res["threads"] = getattr(pipe, "threads", None)
    res["data"] = {"kind": spec.data[0], **{k: v for k, v in spec.data[1].items()}}
    res["summary_ext"] = summarise(res)
    if not spec.keep_rounds:
        for rec in res["rounds"]:
            rec.pop("messages", None)
    return res


def summarise(res: dict[str, Any]) -> dict[str, Any]:
    """Headline numbers of one run (rates from the server's accept/reject decisions)."""
    rounds = res["rounds"]
    s = res["summary"]
    phases: dict[str, list[float]] = {}
    for rec in rounds:
        for k, v in rec.get("phases_s", {}).items():
            phases.setdefault(k, []).append(v)
    msgs = [m for rec in rounds for m in rec.get("messages", [])]
    verdicts = [v for rec in rounds for v in rec.get("verdicts", [])]
    n_verified = sum(1 for v in verdicts if not str(v.get("reason") or "").startswith(
        "unverified"))
    bytes_mean = {}
    for key in ("plaintext_bytes", "ciphertext_bytes", "proof_bytes", "envelope_bytes"):
        vals = [m[key] for m in msgs if key in m and not m.get("proof_skipped")]
        if vals:
            bytes_mean[key] = float(np.mean(vals))
    reasons: dict[str, int] = {}
    for rec in rounds:
        for rej in rec["rejected"]:
            reasons[rej["reason"]] = reasons.get(rej["reason"], 0) + 1
    # honest updates whose *unclipped* norm exceeded tau (what a check without client-side
    # clipping would have rejected: the paper's notion of false positive)
    over = tot = clipped = 0
    for rec in rounds:
        tau = rec["tau"]
        clipped += len(rec["honest_clipped"])
        for k, n in enumerate(rec["honest_norms"]):
            if k in rec["malicious"]:
                continue
            tot += 1
            over += n is None or (math.isfinite(tau) and n > tau)
    honest_norms = [n for rec in rounds for k, n in enumerate(rec["honest_norms"])
                    if k not in rec["malicious"] and n is not None]
    return {
        "final_accuracy": res["final_accuracy"],
        "accuracy_per_round": [rec["accuracy"] for rec in rounds],
        "backdoor_per_round": [rec["backdoor_success"] for rec in rounds],
        "final_backdoor_success": rounds[-1]["backdoor_success"] if rounds else None,
        "mean_round_time_s": s["mean_round_time_s"],
        "round_times_s": [rec["timings_s"]["total"] for rec in rounds],
        "mean_round_cpu_s": mean([rec.get("cpu_s") for rec in rounds]),
        "mean_phase_s": {k: mean(v) for k, v in phases.items()},
        "malicious_submissions": s["malicious_submissions"],
        "malicious_rejected": s["malicious_rejected"],
        "honest_submissions": s["honest_submissions"],
        "honest_rejected": s["honest_rejected"],
        "malicious_rejected_rate": s["detection_rate"],
        "honest_rejected_rate": s["false_positive_rate"],
        "rejection_reasons": reasons,
        "honest_over_tau_unclipped": over,
        "honest_over_tau_unclipped_rate": over / tot if tot else None,
        # honest updates the clients had to clip to the round's τ (what a tight bound
        # costs them instead of a rejection)
        "honest_clipped": clipped,
        "honest_clipped_rate": clipped / tot if tot else None,
        "tau_per_round": [rec["tau"] for rec in rounds],
        "honest_norm_range": [min(honest_norms), max(honest_norms)] if honest_norms else None,
        "malicious_norms": [rec["update_norms"][k] for rec in rounds for k in rec["malicious"]],
        "bytes_per_message_mean": bytes_mean,
        "diverged": any(rec["diverged"] for rec in rounds),
        "proofs_mode": res.get("proofs"),
        "submissions_verified": n_verified if verdicts else None,
        "submissions_unverified": (len(verdicts) - n_verified) if verdicts else None,
        "n_params": res["n_params"],
    }


def _worker(spec: RunSpec) -> dict[str, Any]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # one proving thread per worker process: the workers already fill the cores
    return run_config(spec if spec.threads else replace(spec, threads=1))


def run_many(specs: Sequence[RunSpec], workers: int = 1) -> list[dict[str, Any]]:
    """Run independent federations, ``workers`` at a time (results in input order)."""
    if workers <= 1 or len(specs) <= 1:
        return [run_config(s) for s in specs]
    # "spawn": forking a process that already runs torch/numba thread pools can deadlock
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
        return list(ex.map(_worker, specs))


def spec_dict(spec: RunSpec) -> dict[str, Any]:
    return asdict(spec)


def with_(spec: RunSpec, **kw: Any) -> RunSpec:
    return replace(spec, **kw)
