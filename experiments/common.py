"""Shared helpers for the experiment scripts: the paper's data setting, machine
description, JSON output, phase timers and the common command-line options.

Nothing here decides an experimental outcome; it only sets things up and records them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CRYPTO_PHASES",
    "DEFAULT_OUT",
    "NOT_EVALUATED",
    "PAPER",
    "SMOKE_LABEL",
    "PaperSetting",
    "PhaseTimer",
    "add_common_args",
    "git_commit",
    "load_json",
    "machine_info",
    "paper_data",
    "real_split",
    "smoke_banner",
    "smoke_targets",
    "smoke_title",
    "to_jsonable",
    "write_json",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "paper_results"

# ``--quick`` runs exist to exercise the code paths fast (tests, CI). They use an
# insecure BFV ring (N = 256) and a tiny model, so nothing they measure is a result:
# every artefact they write carries this label, and no target is evaluated.
SMOKE_LABEL = "SMOKE TEST — insecure parameters, small model, not a result"
NOT_EVALUATED = "not evaluated (smoke test)"

# the pipeline phases that exist only because of the protection (client and server side);
# aggregation is not among them: standard FL aggregates too (plaintext FedAvg)
CRYPTO_PHASES = ("quantise", "encrypt", "prove", "serialise", "seal", "open", "deserialise",
                 "verify", "decrypt")


def smoke_banner(smoke: bool) -> str:
    """Markdown block that opens every table/summary written by a ``--quick`` run."""
    return f"> **{SMOKE_LABEL}.**\n\n" if smoke else ""


def smoke_title(title: str, smoke: bool) -> str:
    """Figure title, with the smoke-test label as its first line in ``--quick`` mode."""
    return f"{SMOKE_LABEL}\n{title}" if smoke else title


def smoke_targets(targets: dict[str, bool | None], smoke: bool) -> dict[str, bool | None]:
    """A smoke test never meets (or misses) a target: every target becomes ``None``."""
    return {k: None for k in targets} if smoke else dict(targets)


@dataclass(frozen=True)
class PaperSetting:
    """The ZKFL-PQ paper's reported numbers (arXiv 2603.03398), for side-by-side tables."""

    n_clients: int = 5
    n_rounds: int = 10
    tau: float = 5.0
    malicious_client: int = 3
    attack_start_round: int = 3  # 0-based index: the paper's "4th round"
    noise_std: float = 50.0
    n_params: int = 108_996
    encrypted_params: int = 512
    proven_params: int = 256
    mean_round_time_s: dict[str, float] = field(
        default_factory=lambda: {"standard": 0.149, "mlkem": 2.376, "zkflpq": 2.912}
    )
    final_accuracy: dict[str, float] = field(
        default_factory=lambda: {"standard": 0.230, "mlkem": 0.235, "zkflpq": 1.0}
    )
    detection_rate: dict[str, float] = field(
        default_factory=lambda: {"standard": 0.0, "mlkem": 0.0, "zkflpq": 1.0}
    )
    overhead_factor: float = 20.0  # "~20x"
    # ablation: number of malicious clients -> (accuracy, detected count), no false positives
    ablation_malicious: dict[int, tuple[float, int]] = field(
        default_factory=lambda: {0: (1.0, 0), 1: (1.0, 3), 2: (1.0, 6), 3: (1.0, 9)}
    )
    # ablation: tau -> (false-positive rate, detection rate)
    ablation_tau: dict[float, tuple[float, float]] = field(
        default_factory=lambda: {
            1.0: (0.136, 1.0),
            2.0: (0.136, 1.0),
            5.0: (0.0, 1.0),
            10.0: (0.0, 1.0),
            50.0: (0.0, 1.0),
        }
    )


PAPER = PaperSetting()


def paper_data(
    *,
    n_clients: int = 5,
    n_samples: int = 1000,
    n_features: int = 784,
    seed: int = 42,
    alpha: float = 0.5,
) -> tuple[list[Any], Any]:
    """The paper's data: synthetic 4-class set (seed 42), first 80 % train / last 20 %
    test, Dirichlet(alpha) split of the training part over ``n_clients``."""
    from zkflpq.fl.data import dirichlet_split, make_synthetic_medical, train_test_split

    ds = make_synthetic_medical(n_samples, n_features, seed=seed)
    train, test = train_test_split(ds, 0.2)
    min_samples = max(1, min(10, len(train) // (2 * n_clients)))
    return dirichlet_split(train, n_clients, alpha, seed=seed, min_samples=min_samples), test


def real_split(ds: Any, n_clients: int, *, seed: int = 42, alpha: float = 0.5):
    """Shuffled 80/20 split of a real dataset, Dirichlet(alpha) over ``n_clients``."""
    from zkflpq.fl.data import dirichlet_split, train_test_split

    train, test = train_test_split(ds, 0.2, seed=seed)
    return dirichlet_split(train, n_clients, alpha, seed=seed), test


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() or None
    except Exception:
        return None


def git_dirty(paths: Sequence[str] = ("experiments", "zkflpq")) -> bool | None:
    """Whether the working tree differs from HEAD under ``paths`` (code measured != HEAD)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=10)
        return bool(out.stdout.strip()) if out.returncode == 0 else None
    except Exception:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """Where and with what a result was measured."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()
        info["memory_gib"] = round(int(mem[1]) / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    for mod in ("torch", "numba", "tenseal", "cryptography"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:
            info[mod] = None
    return info


def to_jsonable(obj: Any) -> Any:
    """numpy scalars/arrays, tuples, dataclass-free dicts → plain JSON; NaN/inf → None."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n")
    tmp.replace(p)
    return p


def load_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text())


class PhaseTimer:
    """Accumulates wall-clock seconds per named phase (``with timer("encrypt"): ...``)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, time.perf_counter() - t)

    def add(self, phase: str, seconds: float) -> None:
        self.totals[phase] = self.totals.get(phase, 0.0) + seconds
        self.counts[phase] = self.counts.get(phase, 0) + 1

    def snapshot_and_reset(self) -> dict[str, float]:
        out = dict(self.totals)
        self.totals.clear()
        self.counts.clear()
        return out


def add_common_args(parser: argparse.ArgumentParser, default_out: Path | None = None) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: small, fast configuration for tests (insecure BFV preset, small "
        "model); its outputs are labelled as such and evaluate no target",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=default_out or DEFAULT_OUT,
        help=f"output directory (default: {default_out or DEFAULT_OUT})",
    )


def mean(xs: Sequence[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


def median(xs: Sequence[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(np.median(xs)) if xs else None
