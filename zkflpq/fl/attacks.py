"""Poisoning attacks on federated learning, behind one interface.

An :class:`Attack` turns a malicious client's honest update ``(P,)`` into the vector it
submits (:meth:`Attack.poison_update`) and, for data-poisoning attacks
(``applies_to_data``), first corrupts its local training set
(:meth:`Attack.poison_data`). Omniscient attacks (``needs_benign``: ALIE, IPM, min-max,
min-sum) read the benign updates of the round from :class:`AttackContext`.

All outputs are float32 ``(P,)`` vectors; randomness comes from ``ctx.rng`` / the
``rng`` argument (numpy Generators: these are simulations, not secrets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np
from torch import nn

from .data import Dataset
from .training import clip_l2, l2_norm, predict

__all__ = [
    "ATTACKS",
    "ALIEAttack",
    "Attack",
    "AttackContext",
    "ConstrainAndScaleBackdoor",
    "GaussianNoiseAttack",
    "IPMAttack",
    "LabelFlipAttack",
    "MinMaxAttack",
    "MinSumAttack",
    "NoAttack",
    "ScalingAttack",
    "SignFlipAttack",
    "Trigger",
    "alie_z_max",
    "backdoor_success",
    "make_attack",
    "make_pixel_trigger",
]


@dataclass
class AttackContext:
    """What a malicious client knows when crafting its update.

    benign_updates: ``(k, P)`` honest updates of the round visible to the attacker
    (needed by omniscient attacks), or ``None``. tau: the norm bound the aggregator
    enforces (``None`` if unknown). n_clients / n_malicious: federation size and number
    of colluding attackers (ALIE's z_max). global_vec: current global model ``(P,)``.
    """

    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    round_index: int = 0
    tau: float | None = None
    benign_updates: np.ndarray | None = None
    n_clients: int = 1
    n_malicious: int = 1
    client_id: int = 0
    global_vec: np.ndarray | None = None

    def benign(self, min_rows: int = 2) -> np.ndarray:
        """``(k, P)`` float64 benign updates; raises if fewer than ``min_rows``."""
        if self.benign_updates is None:
            raise ValueError("this attack needs ctx.benign_updates")
        b = np.atleast_2d(np.asarray(self.benign_updates, dtype=np.float64))
        if b.shape[0] < min_rows:
            raise ValueError(f"this attack needs >= {min_rows} benign updates, got {b.shape[0]}")
        return b


class Attack:
    """Base class: the identity attack (an honest client).

    Subclasses set ``name``, ``applies_to_data`` (poisons the training set) and
    ``needs_benign`` (reads ``ctx.benign_updates``) and override the hooks.
    """

    name: ClassVar[str] = "none"
    applies_to_data: ClassVar[bool] = False
    needs_benign: ClassVar[bool] = False

    def poison_data(self, dataset: Dataset, rng: np.random.Generator) -> Dataset:
        """Corrupted copy of the attacker's local data (identity by default)."""
        return dataset

    def poison_update(self, honest_update: np.ndarray, ctx: AttackContext) -> np.ndarray:
        """``(P,)`` float32 update to submit instead of ``honest_update``."""
        return np.asarray(honest_update, dtype=np.float32).copy()

    def params(self) -> dict[str, Any]:
        """JSON-serialisable hyper-parameters (for experiment records)."""
        return {
            k: v
            for k, v in vars(self).items()
            if not k.startswith("_") and isinstance(v, bool | int | float | str | None)
        }

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.params()}


class NoAttack(Attack):
    """Honest behaviour (baseline)."""


class GaussianNoiseAttack(Attack):
    """Replace the update by i.i.d. ``N(0, std^2)`` noise (the paper's attack: std 50,
    norm ~= std * sqrt(P) ~= 16,500 for P = 108,996)."""

    name = "gaussian"

    def __init__(self, std: float = 50.0) -> None:
        self.std = float(std)

    def poison_update(self, honest_update, ctx):
        n = np.asarray(honest_update).shape[0]
        return ctx.rng.normal(0.0, self.std, n).astype(np.float32)


class ScalingAttack(Attack):
    """Model replacement / boosting: submit ``boost * honest`` (Bagdasaryan et al.'s
    scale factor; default ``boost = n_clients``, which cancels FedAvg's 1/n)."""

    name = "scaling"

    def __init__(self, boost: float | None = None) -> None:
        self.boost = None if boost is None else float(boost)

    def poison_update(self, honest_update, ctx):
        boost = self.boost if self.boost is not None else float(ctx.n_clients)
        return (boost * np.asarray(honest_update, dtype=np.float64)).astype(np.float32)


class SignFlipAttack(Attack):
    """Submit ``-scale * honest`` (gradient ascent direction)."""

    name = "sign_flip"

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = float(scale)

    def poison_update(self, honest_update, ctx):
        return (-self.scale * np.asarray(honest_update, dtype=np.float64)).astype(np.float32)


class LabelFlipAttack(Attack):
    """Data poisoning: train honestly on labels mapped ``y -> n_classes - 1 - y``
    (or ``source -> target`` only, when both are given)."""

    name = "label_flip"
    applies_to_data = True

    def __init__(self, source: int | None = None, target: int | None = None) -> None:
        if (source is None) != (target is None):
            raise ValueError("give both source and target, or neither")
        self.source, self.target = source, target

    def poison_data(self, dataset, rng):
        y = dataset.y.copy()
        if self.source is None:
            y = dataset.n_classes - 1 - y
        else:
            y[dataset.y == self.source] = self.target
        return Dataset(dataset.X, y, dataset.n_classes, f"{dataset.name}+label_flip")


def alie_z_max(n_clients: int, n_malicious: int) -> float:
    """Baruch et al. (2019) z_max: with ``s = floor(n/2 + 1) - m`` supporters needed,
    ``z_max = Phi^{-1}((n - s) / n)`` (standard-normal quantile)."""
    s = n_clients // 2 + 1 - n_malicious
    p = (n_clients - s) / n_clients
    p = min(max(p, 1e-12), 1.0 - 1e-12)
    return float(NormalDist().inv_cdf(p))


class ALIEAttack(Attack):
    """ "A Little Is Enough" (Baruch et al., NeurIPS 2019): per coordinate
    ``mu - z * sigma`` of the benign updates, with ``z = alie_z_max(n, m)`` unless
    given. Small z keeps every coordinate inside the benign spread."""

    name = "alie"
    needs_benign = True

    def __init__(self, z: float | None = None) -> None:
        self.z = None if z is None else float(z)

    def z_for(self, ctx: AttackContext) -> float:
        return self.z if self.z is not None else alie_z_max(ctx.n_clients, ctx.n_malicious)

    def poison_update(self, honest_update, ctx):
        b = ctx.benign()
        return (b.mean(axis=0) - self.z_for(ctx) * b.std(axis=0)).astype(np.float32)


class IPMAttack(Attack):
    """Inner-product manipulation (Xie et al., UAI 2020): ``-epsilon * mean(benign)``,
    so the inner product with the true mean update is negative."""

    name = "ipm"
    needs_benign = True

    def __init__(self, epsilon: float = 0.5) -> None:
        self.epsilon = float(epsilon)

    def poison_update(self, honest_update, ctx):
        b = ctx.benign(min_rows=1)
        return (-self.epsilon * b.mean(axis=0)).astype(np.float32)


def _perturbation(b: np.ndarray, kind: str) -> np.ndarray:
    mu = b.mean(axis=0)
    if kind == "unit_vec":
        n = np.linalg.norm(mu)
        return -mu / n if n > 0 else np.zeros_like(mu)
    if kind == "std":
        return -b.std(axis=0)
    if kind == "sign":
        return -np.sign(mu)
    raise ValueError(f"unknown perturbation {kind!r} (unit_vec, std, sign)")


def _sq_dists(b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Squared distances ``||b_i - x||^2`` for each row of ``b``."""
    d = b - x
    return np.einsum("ij,ij->i", d, d)


def _pairwise_sq(b: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", b, b)
    gram = b @ b.T
    return np.maximum(sq[:, None] + sq[None, :] - 2 * gram, 0.0)


class _OptimisedDeviation(Attack):
    """Shejwalkar & Houmansadr (NDSS 2021): ``mu + gamma * p`` with the largest gamma
    keeping the malicious update as close to the benign ones as they are to each other
    (``_feasible``); gamma found by doubling then bisection (the feasible set is an
    interval [0, gamma*] because the constraint is convex in gamma and holds at 0)."""

    needs_benign = True

    def __init__(
        self,
        perturbation: str = "unit_vec",
        gamma_init: float = 10.0,
        tol: float = 1e-5,
        max_iter: int = 200,
    ) -> None:
        _perturbation(np.zeros((1, 1)), perturbation)  # validate the name
        self.perturbation = perturbation
        self.gamma_init = float(gamma_init)
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self._last_gamma: float | None = None

    @property
    def last_gamma(self) -> float | None:
        """gamma chosen by the latest :meth:`poison_update` call."""
        return self._last_gamma

    def _feasible(self, b: np.ndarray, x: np.ndarray, pair_sq: np.ndarray) -> bool:
        raise NotImplementedError

    def poison_update(self, honest_update, ctx):
        b = ctx.benign()
        mu = b.mean(axis=0)
        p = _perturbation(b, self.perturbation)
        pair_sq = _pairwise_sq(b)
        ok = lambda g: self._feasible(b, mu + g * p, pair_sq)  # noqa: E731
        lo, hi = 0.0, self.gamma_init
        for _ in range(self.max_iter):  # grow until infeasible
            if not ok(hi):
                break
            lo, hi = hi, 2 * hi
        else:
            hi = lo
        for _ in range(self.max_iter):
            if hi - lo <= self.tol * max(1.0, lo):
                break
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        self._last_gamma = lo
        return (mu + lo * p).astype(np.float32)


class MinMaxAttack(_OptimisedDeviation):
    """Min-max: ``max_i ||m - g_i|| <= max_{i,j} ||g_i - g_j||``."""

    name = "min_max"

    def _feasible(self, b, x, pair_sq):
        return bool(_sq_dists(b, x).max() <= pair_sq.max())


class MinSumAttack(_OptimisedDeviation):
    """Min-sum: ``sum_i ||m - g_i||^2 <= max_i sum_j ||g_i - g_j||^2``."""

    name = "min_sum"

    def _feasible(self, b, x, pair_sq):
        return bool(_sq_dists(b, x).sum() <= pair_sq.sum(axis=1).max())


@dataclass(frozen=True)
class Trigger:
    """A backdoor trigger: features ``indices`` (int64 ``(t,)``) set to ``values``
    (float32 ``(t,)``)."""

    indices: np.ndarray
    values: np.ndarray

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Copy of ``X`` ``(n, d)`` with the trigger stamped on every row."""
        out = np.array(X, dtype=np.float32, copy=True)
        out[:, self.indices] = self.values
        return out


def make_pixel_trigger(
    n_features: int,
    *,
    size: int = 4,
    value: float = 1.0,
    low: float | None = None,
    image_shape: tuple[int, int] | None = None,
) -> Trigger:
    """A ``size x size`` checkerboard in the bottom-right corner of a flattened
    ``image_shape`` image (default: square ``sqrt(d) x sqrt(d)``; otherwise the last
    ``size^2`` features). Cells alternate ``value`` / ``low`` (``low`` default:
    ``value``, i.e. a solid patch)."""
    low = value if low is None else low
    side = int(round(np.sqrt(n_features)))
    if image_shape is None and side * side == n_features:
        image_shape = (side, side)
    if image_shape is not None:
        h, w = image_shape
        if h * w != n_features or size > min(h, w):
            raise ValueError(f"image_shape {image_shape} / size {size} do not fit {n_features}")
        rr, cc = np.meshgrid(np.arange(h - size, h), np.arange(w - size, w), indexing="ij")
        idx = (rr * w + cc).reshape(-1)
        checker = ((rr + cc) % 2 == 0).reshape(-1)
    else:
        k = min(size * size, n_features)
        idx = np.arange(n_features - k, n_features)
        checker = np.arange(k) % 2 == 0
    vals = np.where(checker, value, low).astype(np.float32)
    return Trigger(idx.astype(np.int64), vals)


def backdoor_success(
    vec: np.ndarray,
    dataset: Dataset,
    trigger: Trigger,
    target_label: int,
    *,
    hidden: Sequence[int] | None = None,
    model: nn.Module | None = None,
) -> float:
    """Attack success rate: fraction of ``dataset`` samples whose true label is not
    ``target_label`` that the model ``vec`` classifies as ``target_label`` once the
    trigger is stamped on them (nan if there are none)."""
    keep = dataset.y != target_label
    if not keep.any():
        return float("nan")
    stamped = Dataset(trigger.apply(dataset.X[keep]), dataset.y[keep], dataset.n_classes)
    kw = {} if hidden is None else {"hidden": hidden}
    pred = predict(vec, stamped, model=model, **kw)
    return float(np.mean(pred == target_label))


class ConstrainAndScaleBackdoor(Attack):
    """Backdoor (Bagdasaryan et al., AISTATS 2020), norm-constrained variant.

    Data: a ``poison_fraction`` of the attacker's samples get the pixel trigger and label
    ``target_label`` (the rest stay clean, preserving main-task accuracy). Update: the
    honest update on that data is boosted by ``boost`` (default ``n_clients``) and then
    projected onto the L2 ball of radius ``(1 - margin) * tau`` so that it passes a norm
    check at ``tau``; with ``scale_to_bound`` it is instead rescaled to exactly that
    radius (the strongest update the check lets through). Without ``tau`` in the
    context it is only boosted.
    ``trigger`` defaults to :func:`make_pixel_trigger` with the training data's max
    feature value, fixed at the first :meth:`poison_data` call.
    """

    name = "backdoor"
    applies_to_data = True

    def __init__(
        self,
        target_label: int = 0,
        poison_fraction: float = 0.5,
        boost: float | None = None,
        margin: float = 0.0,
        scale_to_bound: bool = False,
        trigger: Trigger | None = None,
        trigger_size: int = 4,
    ) -> None:
        if not 0.0 < poison_fraction <= 1.0:
            raise ValueError("poison_fraction must be in (0, 1]")
        if not 0.0 <= margin < 1.0:
            raise ValueError("margin must be in [0, 1)")
        self.target_label = int(target_label)
        self.poison_fraction = float(poison_fraction)
        self.boost = None if boost is None else float(boost)
        self.margin = float(margin)
        self.scale_to_bound = bool(scale_to_bound)
        self.trigger_size = int(trigger_size)
        self.trigger = trigger

    def _trigger_for(self, dataset: Dataset) -> Trigger:
        if self.trigger is None:
            self.trigger = make_pixel_trigger(
                dataset.n_features, size=self.trigger_size, value=float(dataset.X.max())
            )
        return self.trigger

    def poison_data(self, dataset, rng):
        trig = self._trigger_for(dataset)
        n_poison = max(1, int(round(self.poison_fraction * len(dataset))))
        rows = rng.choice(len(dataset), size=n_poison, replace=False)
        X, y = dataset.X.copy(), dataset.y.copy()
        X[rows] = trig.apply(X[rows])
        y[rows] = self.target_label
        return Dataset(X, y, dataset.n_classes, f"{dataset.name}+backdoor")

    def poison_update(self, honest_update, ctx):
        boost = self.boost if self.boost is not None else float(ctx.n_clients)
        u = (boost * np.asarray(honest_update, dtype=np.float64)).astype(np.float32)
        if ctx.tau is None:
            return u
        radius = (1.0 - self.margin) * ctx.tau
        if self.scale_to_bound:
            norm = l2_norm(u)
            if norm > 0:
                u = (u.astype(np.float64) * (radius / norm)).astype(np.float32)
        return clip_l2(u, radius)[0]

    def backdoor_success(self, vec: np.ndarray, dataset: Dataset, **kw) -> float:
        """:func:`backdoor_success` with this attack's trigger and target."""
        return backdoor_success(vec, dataset, self._trigger_for(dataset), self.target_label, **kw)

    def params(self):
        return {k: v for k, v in super().params().items() if k != "trigger"}


ATTACKS: dict[str, Callable[..., Attack]] = {
    "none": NoAttack,
    "gaussian": GaussianNoiseAttack,
    "scaling": ScalingAttack,
    "sign_flip": SignFlipAttack,
    "label_flip": LabelFlipAttack,
    "alie": ALIEAttack,
    "ipm": IPMAttack,
    "min_max": MinMaxAttack,
    "min_sum": MinSumAttack,
    "backdoor": ConstrainAndScaleBackdoor,
}
"""Attack name -> factory (keyword arguments are the attack's hyper-parameters)."""


def make_attack(name: str, **kwargs: Any) -> Attack:
    """``ATTACKS[name](**kwargs)`` with a helpful error for unknown names."""
    try:
        factory = ATTACKS[name]
    except KeyError:
        raise ValueError(f"unknown attack {name!r}; known: {sorted(ATTACKS)}") from None
    return factory(**kwargs)
