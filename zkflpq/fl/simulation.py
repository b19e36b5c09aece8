"""In-process plaintext federation runner for experiments.

One round: every client trains locally from the global model (honest clients clip to
the round's τ: ``tau``, or the :class:`~zkflpq.fl.adaptive_tau.AdaptiveTau` rule's value
when ``tau_rule`` is set); clients that are malicious this round replace their update via the
:class:`~zkflpq.fl.attacks.Attack`; each update goes through ``client_update_fn``
(identity here; a crypto pipeline wraps it into ciphertext + proof), then ``defence``
accepts or rejects each submission, and ``aggregate_fn`` (FedAvg by default) builds
the next global model from the accepted ones. :func:`run_federation` returns plain
JSON-serialisable dicts; timings are wall-clock seconds per phase.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .adaptive_tau import AdaptiveTau, AggregateObservation
from .attacks import Attack, AttackContext, NoAttack
from .data import Dataset
from .model import PAPER_HIDDEN, flatten_params, make_model
from .training import clip_l2, evaluate, evaluate_loss, fedavg, l2_norm, local_train

__all__ = [
    "AggregateFn",
    "ClientUpdateFn",
    "Decision",
    "DefenceFn",
    "FederationConfig",
    "SubmissionInfo",
    "fedavg_aggregate",
    "no_defence",
    "norm_check",
    "run_federation",
]

PHASES = ("train", "attack", "client_update", "defence", "aggregate", "evaluate")


@dataclass
class FederationConfig:
    """Federation hyper-parameters (defaults: the paper's setting).

    Clients in ``malicious_clients`` attack from round ``attack_start_round`` on
    (0-based; the paper's Gaussian attacker, client 3, starts at round index 3).
    ``clip_honest``: honest clients clip their update to the round's L2 bound.
    ``tau_rule``: ``None`` (every round's bound is ``tau``) or the JSON form of an
    :class:`~zkflpq.fl.adaptive_tau.AdaptiveTau` (each round's bound from the norms of
    the previous rounds' aggregates). ``model``: ``"mlp"`` (``hidden`` layers) or
    ``"cnn"`` (:func:`~zkflpq.fl.model.make_cnn`, 28×28 single-channel inputs).
    """

    n_clients: int = 5
    n_rounds: int = 10
    local_epochs: int = 3
    lr: float = 0.01
    batch_size: int = 32
    tau: float = 5.0
    clip_honest: bool = True
    malicious_clients: tuple[int, ...] = (3,)
    attack_start_round: int = 3
    hidden: tuple[int, ...] = PAPER_HIDDEN
    seed: int = 42
    tau_rule: dict[str, Any] | None = None
    model: str = "mlp"


@dataclass
class SubmissionInfo:
    """What the server side legitimately knows about a submission (no ground truth):
    client id, round index, the client's sample count, the round's global model and the
    round's norm bound τ (public: clients clip to it)."""

    client_id: int
    round_index: int
    n_samples: int
    global_vec: np.ndarray = field(repr=False)
    tau: float


@dataclass
class Decision:
    """A defence's verdict on one submission; ``reason`` is recorded when rejected."""

    accepted: bool
    reason: str = ""


ClientUpdateFn = Callable[[np.ndarray, SubmissionInfo], Any]
"""``(update (P,) float32, info) -> submission`` (e.g. ciphertext + proof)."""
DefenceFn = Callable[[Any, SubmissionInfo], "Decision | bool"]
"""``(submission, info) -> Decision`` (or a bare bool)."""
AggregateFn = Callable[[np.ndarray, list[Any], list[SubmissionInfo]], np.ndarray]
"""``(global_vec, accepted submissions, their infos) -> new global_vec (P,)``."""


def no_defence(submission: Any, info: SubmissionInfo) -> Decision:
    """Accept everything (standard FedAvg)."""
    return Decision(True)


def norm_check(tau: float | None = None) -> DefenceFn:
    """Plaintext stand-in for the ZK norm proof: reject non-finite updates and those
    with L2 norm > ``tau`` (``None``: the round's own bound, ``info.tau``)."""

    def check(submission: Any, info: SubmissionInfo) -> Decision:
        v = np.asarray(submission)
        if not np.all(np.isfinite(v)):
            return Decision(False, "non-finite entries")
        n = l2_norm(v)
        bound = info.tau if tau is None else tau
        if n > bound:
            return Decision(False, f"L2 norm {n:.6g} > tau {bound:g}")
        return Decision(True)

    return check


def fedavg_aggregate(
    global_vec: np.ndarray, accepted: list[Any], infos: list[SubmissionInfo]
) -> np.ndarray:
    """Default :data:`AggregateFn`: :func:`~zkflpq.fl.training.fedavg` on plain vectors."""
    return fedavg(global_vec, accepted)


def _as_decision(d: Decision | bool) -> Decision:
    return d if isinstance(d, Decision) else Decision(bool(d), "" if d else "rejected")


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def run_federation(
    client_data: Sequence[Dataset],
    test_data: Dataset,
    config: FederationConfig | None = None,
    *,
    attack: Attack | None = None,
    defence: DefenceFn | None = None,
    client_update_fn: ClientUpdateFn | None = None,
    aggregate_fn: AggregateFn | None = None,
    initial_vec: np.ndarray | None = None,
    on_round: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run ``config.n_rounds`` rounds of FL over ``client_data`` (one dataset per client).

    ``defence`` defaults to :func:`norm_check` at the round's τ; pass
    :func:`no_defence` for standard FL. ``client_update_fn`` defaults to the identity;
    if it returns something other than a vector, pass a matching ``aggregate_fn``.
    ``on_round`` receives each round record as soon as it is complete.

    Returns ``{"config", "attack", "n_params", "initial_accuracy", "rounds": [...],
    "final_accuracy", "summary"}``; each round record holds ``accuracy``, ``loss``,
    ``backdoor_success`` (None unless the attack defines it), ``malicious`` (ids
    attacking), ``accepted`` (ids), ``rejected`` (``{"client", "reason"}``),
    ``update_norms`` (L2 norm of each client's submitted plaintext update, by id),
    ``honest_norms`` (before clipping/attack), ``tau`` (the round's bound),
    ``honest_clipped`` (honest ids whose update exceeded it), ``diverged`` (global model
    has non-finite entries; its accuracy is then meaningless) and ``timings_s`` (per
    phase + total).
    """
    cfg = config or FederationConfig()
    if len(client_data) != cfg.n_clients:
        raise ValueError(f"{len(client_data)} client datasets for {cfg.n_clients} clients")
    bad = [c for c in cfg.malicious_clients if not 0 <= c < cfg.n_clients]
    if bad:
        raise ValueError(f"malicious client ids out of range: {bad}")
    attack = attack or NoAttack()
    defence = defence or norm_check()
    rule = AdaptiveTau.from_dict(cfg.tau_rule) if cfg.tau_rule is not None else None
    observations: list[AggregateObservation] = []
    aggregate_fn = aggregate_fn or fedavg_aggregate
    malicious = frozenset(cfg.malicious_clients)

    template = make_model(cfg.model, test_data.n_features, test_data.n_classes,
                          hidden=cfg.hidden, seed=cfg.seed)
    g = (
        flatten_params(template)
        if initial_vec is None
        else np.asarray(initial_vec, dtype=np.float32).copy()
    )

    def backdoor_metric(vec: np.ndarray) -> float | None:
        fn = getattr(attack, "backdoor_success", None)
        if fn is None:
            return None
        return _finite_or_none(fn(vec, test_data, model=template))

    poisoned: dict[int, Dataset] = {}
    rounds: list[dict[str, Any]] = []
    initial_accuracy = evaluate(g, test_data, model=template)
    initial_backdoor = backdoor_metric(g)

    for r in range(cfg.n_rounds):
        t_round = time.perf_counter()
        timings = dict.fromkeys(PHASES, 0.0)
        attacking = r >= cfg.attack_start_round and not isinstance(attack, NoAttack)
        active = sorted(malicious) if attacking else []
        tau = cfg.tau if rule is None else rule.next_tau(observations)

        # 1. local training (attackers on poisoned data for data attacks)
        honest: list[np.ndarray] = []
        for k, ds in enumerate(client_data):
            if k in active and attack.applies_to_data:
                if k not in poisoned:
                    rng = np.random.default_rng((cfg.seed, 2, k))
                    poisoned[k] = attack.poison_data(ds, rng)
                ds = poisoned[k]
            t = time.perf_counter()
            u = local_train(
                g,
                ds,
                cfg.local_epochs,
                cfg.lr,
                cfg.batch_size,
                np.random.default_rng((cfg.seed, 0, r, k)),
                model=template,
            )
            timings["train"] += time.perf_counter() - t
            honest.append(u)
        honest_norms = [l2_norm(u) for u in honest]  # nan/inf once a model diverged

        # 2. honest clients clip; attackers craft their update
        updates: list[np.ndarray] = []
        clipped: list[int] = []
        for k, u in enumerate(honest):
            # a diverged (non-finite) model cannot be clipped: submit as is, let the
            # defence see it
            clip = cfg.clip_honest and k not in active and math.isfinite(honest_norms[k])
            updates.append(clip_l2(u, tau)[0] if clip else u)
            if clip and honest_norms[k] > tau:
                clipped.append(k)
        if active:
            t = time.perf_counter()
            benign_ids = [k for k in range(cfg.n_clients) if k not in active]
            rows = benign_ids if len(benign_ids) >= 2 else list(range(cfg.n_clients))
            benign = np.stack([updates[k] if k in benign_ids else honest[k] for k in rows])
            for k in active:
                ctx = AttackContext(
                    rng=np.random.default_rng((cfg.seed, 1, r, k)),
                    round_index=r,
                    tau=tau,
                    benign_updates=benign,
                    n_clients=cfg.n_clients,
                    n_malicious=len(active),
                    client_id=k,
                    global_vec=g,
                )
                updates[k] = np.asarray(attack.poison_update(honest[k], ctx), dtype=np.float32)
            timings["attack"] += time.perf_counter() - t

        # 3. client-side wrapping (encrypt / prove) and server-side verification
        accepted_subs: list[Any] = []
        accepted_infos: list[SubmissionInfo] = []
        rejected: list[dict[str, Any]] = []
        for k, u in enumerate(updates):
            info = SubmissionInfo(k, r, len(client_data[k]), g, tau)
            t = time.perf_counter()
            sub = client_update_fn(u, info) if client_update_fn else u
            timings["client_update"] += time.perf_counter() - t
            t = time.perf_counter()
            dec = _as_decision(defence(sub, info))
            timings["defence"] += time.perf_counter() - t
            if dec.accepted:
                accepted_subs.append(sub)
                accepted_infos.append(info)
            else:
                rejected.append({"client": k, "reason": dec.reason})

        # 4. aggregation and evaluation
        t = time.perf_counter()
        g_before = g
        g = np.asarray(aggregate_fn(g, accepted_subs, accepted_infos), dtype=np.float32)
        if accepted_infos:
            # what the server learns: the norm of the decrypted mean update, and K
            step = l2_norm(g - g_before)
            if math.isfinite(step):
                observations.append(AggregateObservation(step, len(accepted_infos)))
        timings["aggregate"] = time.perf_counter() - t
        t = time.perf_counter()
        acc = evaluate(g, test_data, model=template)
        loss = evaluate_loss(g, test_data, model=template)
        bd = backdoor_metric(g)
        timings["evaluate"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t_round

        record = {
            "round": r,
            "accuracy": acc,
            "loss": _finite_or_none(loss),
            "diverged": not bool(np.all(np.isfinite(g))),
            "backdoor_success": bd,
            "malicious": list(active),
            "accepted": [i.client_id for i in accepted_infos],
            "rejected": rejected,
            "update_norms": [_finite_or_none(l2_norm(u)) for u in updates],
            "honest_norms": [_finite_or_none(x) for x in honest_norms],
            "tau": tau,
            "honest_clipped": clipped,
            "timings_s": timings,
        }
        rounds.append(record)
        if on_round is not None:
            on_round(record)

    return {
        "config": {
            **asdict(cfg),
            "malicious_clients": list(cfg.malicious_clients),
            "hidden": list(cfg.hidden),
        },
        "attack": attack.describe(),
        "n_params": int(g.shape[0]),
        "initial_accuracy": initial_accuracy,
        "initial_backdoor_success": initial_backdoor,
        "rounds": rounds,
        "final_accuracy": rounds[-1]["accuracy"] if rounds else initial_accuracy,
        "summary": _summary(rounds),
    }


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    mal_sub = mal_rej = hon_sub = hon_rej = 0
    for rec in rounds:
        rej = {e["client"] for e in rec["rejected"]}
        n = len(rec["update_norms"])
        for k in range(n):
            if k in rec["malicious"]:
                mal_sub += 1
                mal_rej += k in rej
            else:
                hon_sub += 1
                hon_rej += k in rej
    totals = [rec["timings_s"]["total"] for rec in rounds]
    return {
        "malicious_submissions": mal_sub,
        "malicious_rejected": mal_rej,
        "honest_submissions": hon_sub,
        "honest_rejected": hon_rej,
        "detection_rate": mal_rej / mal_sub if mal_sub else None,
        "false_positive_rate": hon_rej / hon_sub if hon_sub else None,
        "mean_round_time_s": float(np.mean(totals)) if totals else None,
    }
