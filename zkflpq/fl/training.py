"""Local training, evaluation, L2 clipping and FedAvg on flat parameter vectors.

All vectors are 1-D float32 arrays in :func:`zkflpq.fl.model.model_layout` order;
"update" means ``new_params - global_params`` (same shape).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from .data import Dataset
from .model import PAPER_HIDDEN, load_flat_params, make_mlp, param_count

__all__ = [
    "clip_l2",
    "configure_threads",
    "evaluate",
    "evaluate_loss",
    "fedavg",
    "l2_norm",
    "local_train",
    "predict",
]

Seed = int | Sequence[int] | np.random.Generator | None
"""Anything ``np.random.default_rng`` accepts, or a Generator used as is."""

_THREADS: int | None = 1


def configure_threads(n: int | None = 1) -> None:
    """Torch intra-op thread count used *inside* this module's functions (restored on
    exit, so the process-wide setting is untouched). Default 1: batches of 32 through a
    109k-parameter MLP are too small to profit from more (1 thread measured ~2x faster
    than 2 on a 2-core box). ``None`` means "use torch's current setting"."""
    global _THREADS
    if n is not None and n < 1:
        raise ValueError("thread count must be >= 1")
    _THREADS = n


@contextmanager
def _threads() -> Iterator[None]:
    if _THREADS is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _model_for(vec: np.ndarray, ds: Dataset, hidden: Sequence[int], model: nn.Module | None):
    if model is None:
        model = make_mlp(ds.n_features, hidden, ds.n_classes)
    if param_count(model) != np.asarray(vec).shape[-1]:
        raise ValueError(
            f"vector has {np.asarray(vec).shape[-1]} entries, model has {param_count(model)}"
        )
    return load_flat_params(model, vec)


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def local_train(
    global_vec: np.ndarray,
    dataset: Dataset,
    epochs: int = 3,
    lr: float = 0.01,
    batch_size: int = 32,
    seed: Seed = None,
    *,
    hidden: Sequence[int] = PAPER_HIDDEN,
    model: nn.Module | None = None,
) -> np.ndarray:
    """Plain minibatch SGD (no momentum, mean cross-entropy) from ``global_vec``.

    Each epoch visits the samples in a fresh random order (from ``seed``) in batches of
    ``batch_size`` (last one smaller). The network is ``make_mlp(d, hidden, n_classes)``
    unless ``model`` (same parameter count; overwritten) is given.
    Returns the ``(P,)`` float32 update ``trained - global_vec``.
    """
    with _threads():
        return _local_train(global_vec, dataset, epochs, lr, batch_size, seed, hidden, model)


def _local_train(global_vec, dataset, epochs, lr, batch_size, seed, hidden, model) -> np.ndarray:
    g = np.ascontiguousarray(global_vec, dtype=np.float32)
    net = _model_for(g, dataset, hidden, model)
    net.train()
    params = list(net.parameters())
    X = torch.from_numpy(dataset.X)
    y = torch.from_numpy(dataset.y)
    n = len(dataset)
    rng = _rng(seed)
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(n))
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss = functional.cross_entropy(net(X[idx]), y[idx])
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, gr in zip(params, grads, strict=True):
                    p.add_(gr, alpha=-lr)
    with torch.no_grad():
        new = torch.cat([p.reshape(-1) for p in params]).numpy()
    return (new - g).astype(np.float32)


@torch.no_grad()
def predict(
    vec: np.ndarray,
    dataset: Dataset,
    *,
    hidden: Sequence[int] = PAPER_HIDDEN,
    model: nn.Module | None = None,
) -> np.ndarray:
    """``(n,)`` int64 predicted labels of the model ``vec`` on ``dataset.X``."""
    with _threads():
        net = _model_for(vec, dataset, hidden, model).eval()
        return net(torch.from_numpy(dataset.X)).argmax(dim=1).numpy().astype(np.int64)


def evaluate(
    vec: np.ndarray,
    dataset: Dataset,
    *,
    hidden: Sequence[int] = PAPER_HIDDEN,
    model: nn.Module | None = None,
) -> float:
    """Top-1 accuracy in [0, 1] of the model ``vec`` on ``dataset``."""
    if len(dataset) == 0:
        return float("nan")
    return float(np.mean(predict(vec, dataset, hidden=hidden, model=model) == dataset.y))


@torch.no_grad()
def evaluate_loss(
    vec: np.ndarray,
    dataset: Dataset,
    *,
    hidden: Sequence[int] = PAPER_HIDDEN,
    model: nn.Module | None = None,
) -> float:
    """Mean cross-entropy (nats) of the model ``vec`` on ``dataset``."""
    with _threads():
        net = _model_for(vec, dataset, hidden, model).eval()
        logits = net(torch.from_numpy(dataset.X))
        return float(functional.cross_entropy(logits, torch.from_numpy(dataset.y)))


def l2_norm(vec: np.ndarray) -> float:
    """Euclidean norm, accumulated in float64."""
    v = np.asarray(vec, dtype=np.float64).reshape(-1)
    return float(np.sqrt(np.dot(v, v)))


def clip_l2(update: np.ndarray, tau: float) -> tuple[np.ndarray, float]:
    """Scale ``update`` down to L2 norm <= ``tau`` (float64-exact, even after the
    float32 rounding of the result). Returns ``(clipped, original_norm)``; vectors
    already within the bound come back unchanged (as a copy).
    Raises ``ValueError`` for ``tau < 0`` or non-finite entries (NaN would slip past)."""
    if not tau >= 0:
        raise ValueError("tau must be >= 0")
    u = np.array(update, dtype=np.result_type(np.asarray(update).dtype, np.float32), copy=True)
    if not np.all(np.isfinite(u)):
        raise ValueError("update has non-finite entries")
    norm = l2_norm(u)
    if norm <= tau:
        return u, norm
    scale = tau / norm
    clipped = (u.astype(np.float64) * scale).astype(u.dtype)
    while l2_norm(clipped) > tau:  # rounding pushed it just over: shrink by 1 ulp-ish
        scale *= 1.0 - 4 * float(np.finfo(u.dtype).eps)
        clipped = (u.astype(np.float64) * scale).astype(u.dtype)
    return clipped, norm


def fedavg(global_vec: np.ndarray, accepted_updates: Sequence[np.ndarray]) -> np.ndarray:
    """FedAvg step: ``global + mean(accepted_updates)`` (unweighted), float32.
    With no accepted update the global model is returned unchanged (as a copy)."""
    g = np.asarray(global_vec, dtype=np.float32)
    if len(accepted_updates) == 0:
        return g.copy()
    mean = np.mean(np.stack([np.asarray(u, dtype=np.float64) for u in accepted_updates]), axis=0)
    if mean.shape != g.shape:
        raise ValueError(f"update shape {mean.shape} != global shape {g.shape}")
    return (g.astype(np.float64) + mean).astype(np.float32)
