"""Plaintext ML side of zkflpq: data, the MLP, local training, FedAvg, poisoning attacks
and an in-process federation simulator. Uses numpy / torch / scikit-learn only; it never
imports the crypto layers.

Submodules: :mod:`.data`, :mod:`.model`, :mod:`.training`, :mod:`.attacks`,
:mod:`.simulation`, :mod:`.adaptive_tau`. Names below are re-exported lazily, so
``import zkflpq.fl.data`` does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "AdaptiveTau": "adaptive_tau",
    "AggregateObservation": "adaptive_tau",
    "SYNTHETIC_CLASS_NAMES": "data",
    "Dataset": "data",
    "dirichlet_split": "data",
    "iid_split": "data",
    "load_breast_cancer": "data",
    "load_digits": "data",
    "load_medmnist_npz": "data",
    "make_synthetic_medical": "data",
    "standardize": "data",
    "train_test_split": "data",
    "ARCHITECTURES": "model",
    "PAPER_HIDDEN": "model",
    "Layout": "model",
    "flatten_params": "model",
    "layout_from_json": "model",
    "layout_size": "model",
    "layout_to_json": "model",
    "load_flat_params": "model",
    "make_cnn": "model",
    "make_mlp": "model",
    "make_model": "model",
    "mlp_from_layout": "model",
    "model_layout": "model",
    "param_count": "model",
    "clip_l2": "training",
    "configure_threads": "training",
    "evaluate": "training",
    "evaluate_loss": "training",
    "fedavg": "training",
    "l2_norm": "training",
    "local_train": "training",
    "predict": "training",
    "ATTACKS": "attacks",
    "ALIEAttack": "attacks",
    "Attack": "attacks",
    "AttackContext": "attacks",
    "ConstrainAndScaleBackdoor": "attacks",
    "GaussianNoiseAttack": "attacks",
    "IPMAttack": "attacks",
    "LabelFlipAttack": "attacks",
    "MinMaxAttack": "attacks",
    "MinSumAttack": "attacks",
    "NoAttack": "attacks",
    "ScalingAttack": "attacks",
    "SignFlipAttack": "attacks",
    "Trigger": "attacks",
    "alie_z_max": "attacks",
    "backdoor_success": "attacks",
    "make_attack": "attacks",
    "make_pixel_trigger": "attacks",
    "AggregateFn": "simulation",
    "ClientUpdateFn": "simulation",
    "Decision": "simulation",
    "DefenceFn": "simulation",
    "FederationConfig": "simulation",
    "SubmissionInfo": "simulation",
    "fedavg_aggregate": "simulation",
    "no_defence": "simulation",
    "norm_check": "simulation",
    "run_federation": "simulation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
