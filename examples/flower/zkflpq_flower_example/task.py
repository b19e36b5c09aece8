"""The task: the ZKFL-PQ paper's MLP (``zkflpq.fl.model.make_mlp``) on its synthetic
medical data (``zkflpq.fl.data``), Dirichlet-split over the SuperNodes.

Models travel as PyTorch state dicts in an ``ArrayRecord`` (as in Flower's
quickstart-pytorch); training and evaluation reuse ``zkflpq.fl.training`` on the flat
parameter vector, so this app trains exactly what the paper reproduction trains.
"""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from zkflpq.fl.data import (
    Dataset,
    dirichlet_split,
    make_synthetic_medical,
    standardize,
    train_test_split,
)
from zkflpq.fl.model import flatten_params, load_flat_params, make_mlp
from zkflpq.fl.training import evaluate, local_train

_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    with open(_PYPROJECT, "rb") as fh:
        return dict(tomllib.load(fh)["tool"]["flwr"]["app"]["config"])


def app_config(run_config: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
               ) -> dict[str, Any]:
    """pyproject defaults < the run's config < ``overrides``.

    Under ``flwr run`` the run config already holds every key (Flower fills it from
    [tool.flwr.app.config] and ``--run-config``); ``flwr.simulation.run_simulation`` (the
    tests, ``zkflpq flower-demo``-style drivers) passes none, so the defaults come from the
    same pyproject.toml and a driver's overrides from ``make_app(overrides)``.
    """
    return {**_defaults(), **dict(run_config), **dict(overrides or {})}


def hidden_of(cfg: Any) -> tuple[int, ...]:
    return tuple(int(h) for h in str(cfg["hidden"]).split(",") if h.strip())


def make_model(cfg: Any) -> nn.Module:
    """The global model's initial weights: the same seed on every party."""
    return make_mlp(int(cfg["features"]), hidden_of(cfg), int(cfg["classes"]),
                    seed=int(cfg["seed"]))


@lru_cache(maxsize=4)
def _split(samples: int, features: int, classes: int, partitions: int, alpha: float,
           seed: int) -> tuple[list[Dataset], Dataset]:
    # Every SuperNode regenerates the same data set from the seed and takes its partition;
    # cached so a node does not rebuild it each round.
    ds = make_synthetic_medical(samples, features, classes, seed=seed)
    train, test = train_test_split(ds, seed=seed)
    train, test = standardize(train, test)
    return dirichlet_split(train, partitions, alpha=alpha, seed=seed), test


def load_partition(partition_id: int, num_partitions: int, cfg: Any) -> Dataset:
    parts, _ = _split(int(cfg["samples"]), int(cfg["features"]), int(cfg["classes"]),
                      num_partitions, float(cfg["dirichlet-alpha"]), int(cfg["seed"]))
    return parts[partition_id]


def load_test(cfg: Any) -> Dataset:
    _, test = _split(int(cfg["samples"]), int(cfg["features"]), int(cfg["classes"]),
                     int(cfg["num-nodes"]), float(cfg["dirichlet-alpha"]), int(cfg["seed"]))
    return test


def train(model: nn.Module, data: Dataset, cfg: Any, seed: int) -> None:
    """Local SGD in place (``zkflpq.fl.training.local_train``)."""
    g = flatten_params(model)
    upd = local_train(g, data, epochs=int(cfg["local-epochs"]), lr=float(cfg["lr"]),
                      seed=seed, hidden=hidden_of(cfg), model=model)
    load_flat_params(model, g + upd)


def set_ndarrays(model: nn.Module, arrays: Any) -> None:
    """Load a list of arrays (legacy ``Parameters`` order = ``state_dict`` order)."""
    import torch

    keys = list(model.state_dict().keys())
    model.load_state_dict({k: torch.as_tensor(np.asarray(a)) for k, a in
                           zip(keys, arrays, strict=True)})


def test_accuracy(model: nn.Module, data: Dataset, cfg: Any) -> float:
    return evaluate(flatten_params(model), data, hidden=hidden_of(cfg))


def key_dir(run_id: int) -> Path:
    """Where the ServerApp's simulation enrolment writes one ML-DSA key per SuperNode.

    Simulation only: all SuperNodes of `flwr run` on a local SuperLink share this machine,
    so the "operator gives each hospital its key file" step is a directory per run (created
    0700 by the ServerApp, removed at the end). In a deployment each SuperNode has its own
    key file (node-config ``zkflpq-signing-key``) and nothing is shared.
    """
    return Path(tempfile.gettempdir()) / f"zkflpq-flower-example-run-{int(run_id)}"


def poisoned(update: np.ndarray, server_round: int) -> np.ndarray:
    """The attacker's update: large Gaussian noise N(0, 50²) instead of the trained one."""
    return np.random.default_rng(server_round).normal(0.0, 50.0, update.shape)
