"""The MLP classifier and its flat-parameter view.

The paper's model is ``784 -> 128 -> 64 -> 4`` with ReLU: 108,996 parameters; a small
CNN for 28×28 single-channel images (:func:`make_cnn`, 46,340 parameters) stands beside
it for workloads whose training costs more per parameter. Updates
travel as one flat float32 vector; :func:`model_layout` names the ``(name, shape)``
blocks of that vector, in order, so a server can describe the model as JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "ARCHITECTURES",
    "PAPER_HIDDEN",
    "Layout",
    "flatten_params",
    "layout_from_json",
    "layout_size",
    "layout_to_json",
    "load_flat_params",
    "make_cnn",
    "make_mlp",
    "make_model",
    "mlp_from_layout",
    "model_layout",
    "param_count",
]

PAPER_HIDDEN: tuple[int, ...] = (128, 64)
ARCHITECTURES: tuple[str, ...] = ("mlp", "cnn")

Layout = list[tuple[str, tuple[int, ...]]]
"""Ordered ``(parameter name, shape)`` pairs; the flat vector is their concatenation
(each block in row-major order)."""


def make_mlp(
    in_dim: int = 784,
    hidden: Sequence[int] = PAPER_HIDDEN,
    n_classes: int = 4,
    *,
    seed: int | None = None,
) -> nn.Sequential:
    """``in_dim -> hidden... -> n_classes`` MLP with ReLU between layers (logits out).

    Weights are He-normal ``N(0, 2 / fan_in)``, biases zero (the paper's init); ``seed``
    makes the init deterministic without touching torch's global RNG.
    """
    dims = [int(in_dim), *map(int, hidden), int(n_classes)]
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                std = math.sqrt(2.0 / layer.in_features)
                layer.weight.normal_(0.0, std, generator=gen)
                layer.bias.zero_()
    return model


def make_cnn(n_classes: int = 4, *, side: int = 28, seed: int | None = None) -> nn.Sequential:
    """Small LeNet-style CNN on flat ``side²`` inputs read as one-channel images:
    conv 5×5 (16) → ReLU → max-pool 2 → conv 5×5 (32) → ReLU → max-pool 2 → 64 → classes.

    46,340 parameters at side 28 and 4 classes. He-normal weights, zero biases; ``seed``
    as in :func:`make_mlp`.
    """
    side = int(side)
    feat = ((side - 4) // 2 - 4) // 2
    if feat < 1:
        raise ValueError("side must be at least 16")
    model = nn.Sequential(
        nn.Unflatten(1, (1, side, side)),
        nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * feat * feat, 64), nn.ReLU(),
        nn.Linear(64, int(n_classes)),
    )
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear | nn.Conv2d):
                fan_in = layer.weight[0].numel()
                layer.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=gen)
                assert layer.bias is not None
                layer.bias.zero_()
    return model


def make_model(arch: str, in_dim: int, n_classes: int, *,
               hidden: Sequence[int] = PAPER_HIDDEN, seed: int | None = None) -> nn.Sequential:
    """``"mlp"`` → :func:`make_mlp`; ``"cnn"`` → :func:`make_cnn` (``in_dim`` must be a
    square, e.g. 784 = 28²)."""
    if arch == "mlp":
        return make_mlp(in_dim, hidden, n_classes, seed=seed)
    if arch == "cnn":
        side = math.isqrt(int(in_dim))
        if side * side != in_dim:
            raise ValueError(f"the CNN needs square images; {in_dim} features is not a square")
        return make_cnn(n_classes, side=side, seed=seed)
    raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")


def param_count(model: nn.Module) -> int:
    """Total number of scalar parameters (length of the flat vector)."""
    return sum(p.numel() for p in model.parameters())


def flatten_params(model: nn.Module) -> np.ndarray:
    """``(param_count,)`` float32 copy of all parameters in :func:`model_layout` order."""
    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return flat.to(torch.float32).cpu().numpy().copy()


def load_flat_params(model: nn.Module, vec: np.ndarray) -> nn.Module:
    """Overwrite ``model``'s parameters in place from a flat vector; returns ``model``."""
    v = np.asarray(vec)
    n = param_count(model)
    if v.ndim != 1 or v.shape[0] != n:
        raise ValueError(f"expected a flat vector of {n} parameters, got shape {v.shape}")
    t = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
    offset = 0
    with torch.no_grad():
        for p in model.parameters():
            k = p.numel()
            p.copy_(t[offset : offset + k].view_as(p))
            offset += k
    return model


def model_layout(model: nn.Module) -> Layout:
    """Ordered ``(name, shape)`` of every parameter block of the flat vector."""
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


def layout_size(layout: Layout) -> int:
    """Flat-vector length described by ``layout``."""
    return sum(math.prod(shape) for _, shape in layout)


def layout_to_json(layout: Layout) -> str:
    """Serialise a layout as a JSON list of ``{"name", "shape"}`` objects."""
    return json.dumps([{"name": n, "shape": list(s)} for n, s in layout])


def layout_from_json(text: str) -> Layout:
    """Inverse of :func:`layout_to_json`."""
    return [(str(e["name"]), tuple(int(d) for d in e["shape"])) for e in json.loads(text)]


def mlp_from_layout(layout: Layout, *, seed: int | None = None) -> nn.Sequential:
    """Rebuild the :func:`make_mlp` network a layout describes (alternating 2-D weight /
    1-D bias blocks of a Linear chain); raises ``ValueError`` for anything else."""
    if not layout or len(layout) % 2:
        raise ValueError("an MLP layout alternates weight and bias blocks")
    dims: list[int] = []
    for (_, w), (_, b) in zip(layout[0::2], layout[1::2], strict=True):
        if len(w) != 2 or b != (w[0],) or (dims and dims[-1] != w[1]):
            raise ValueError(f"layout is not a Linear chain at weight {w}, bias {b}")
        if not dims:
            dims.append(w[1])
        dims.append(w[0])
    model = make_mlp(dims[0], dims[1:-1], dims[-1], seed=seed)
    if model_layout(model) != layout:
        raise ValueError("layout names do not match make_mlp's parameter names")
    return model
