"""The client agent: download the model, train with a caller-supplied function, clip,
quantise, encrypt, prove, sign, seal, submit.

The training function is ``train_fn(global_vector, round_config) -> update`` (a float
vector of the same length, e.g. :func:`zkflpq.fl.local_train` wrapped over a local
dataset). Everything after it is done here; the agent refuses (raises, sends nothing) if it
would have to prove an update over the bound — which cannot happen after clipping.

``build`` is the cryptographic step ``(public_key, update, tau, scale, context) ->
(ciphertext bytes, proof bytes, timings)``: :func:`zkflpq.zkbridge.prove_update`
for an honest client. Tests and the demo swap in
:func:`zkflpq.zkbridge.forge_mismatched_update` (with ``clip=False``) to play a
client that sends an oversized update with a proof for something else.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zkflpq.client_pipeline import prepare_update

from .transport import AggregatorClient, SubmissionResult

__all__ = ["BuildFn", "ClientAgent", "RoundReport", "TrainFn"]

TrainFn = Callable[[np.ndarray, dict[str, Any]], np.ndarray]
BuildFn = Callable[..., tuple[bytes, bytes, dict[str, float]]]


@dataclass
class RoundReport:
    round_id: int
    client_id: str
    result: SubmissionResult | None
    update_norm: float
    clipped_norm: float
    timings: dict[str, float] = field(default_factory=dict)
    ciphertext_bytes: int = 0
    proof_bytes: int = 0
    skipped: str | None = None  # why nothing was sent (result is None then)

    @property
    def accepted(self) -> bool:
        return self.result is not None and self.result.accepted


def _default_build() -> BuildFn:
    from zkflpq.zkbridge import prove_update

    return prove_update


class _PhaseLines:
    """``Progress.add_task`` look-alike that prints each phase as a timestamped line."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def add_task(self, description: str, total: float | None = None) -> int:
        print(f"{description} (+{time.monotonic() - self.t0:.1f} s)", file=sys.stderr,
              flush=True)
        return 0


class ClientAgent:
    def __init__(self, client: AggregatorClient, train_fn: TrainFn, *, clip: bool = True,
                 build: BuildFn | None = None, progress: bool = False,
                 label: str | None = None) -> None:
        self.client = client
        self.train_fn = train_fn
        self.clip = clip
        self.build = build or _default_build()
        self.progress = progress
        self.label = label or (client.client_id or "client")

    def _phases(self) -> Any:
        if not self.progress:
            return nullcontext(None)
        if not sys.stderr.isatty():
            # A live spinner is invisible in a log file or a scheduler's capture: one line
            # per phase there, so a long proof is never a silent minute.
            return nullcontext(_PhaseLines())
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                        transient=True)

    def run_round(self, round_config: dict[str, Any] | None = None) -> RoundReport:
        c = self.client
        params = c.params()
        cfg = round_config or c.current_round()
        round_id = int(cfg["round_id"])
        if cfg.get("already_accepted"):
            return self._skip(round_id, "duplicate", {})
        tau, scale = float(cfg["tau"]), float(cfg["scale"])
        timings: dict[str, float] = {}
        with self._phases() as prog:
            def phase(name: str) -> None:
                if prog is not None:
                    prog.add_task(f"[{self.label}] round {round_id}: {name}", total=None)

            phase("download model")
            t = time.perf_counter()
            model, meta = c.model(round_id)
            timings["download_ms"] = _ms(t)

            # The round configuration carries the deadline: training and proving for a
            # round that can no longer take the update is wasted work.
            if _past_deadline(cfg):
                return self._skip(round_id, "deadline_passed", timings)
            phase("train")
            t = time.perf_counter()
            update = np.asarray(self.train_fn(model, cfg), dtype=np.float32).reshape(-1)
            timings["train_ms"] = _ms(t)
            if _past_deadline(cfg):
                return self._skip(round_id, "deadline_passed", timings)
            if update.shape != model.shape:
                raise ValueError(f"train_fn returned {update.shape}, model is {model.shape}")
            phase("quantise, encrypt, prove")
            # clip → quantise → encrypt → prove: the transport-free pipeline, shared with
            # the Flower mod (zkflpq.flower.mod).
            prepared = prepare_update(params.bfv_pk, update, tau=tau, scale=scale,
                                      aggregator_id=params.aggregator_id, round_id=round_id,
                                      client_id=c.client_id or "", clip=self.clip,
                                      build=self.build)
            ct, proof = prepared.ciphertexts, prepared.proof
            norm, clipped = prepared.update_norm, prepared.clipped_norm
            timings.update(prepared.timings)

            phase("sign, seal, submit")
            t = time.perf_counter()
            result = c.submit(round_id, ct, proof, k_min=int(cfg["k_min"]))
            timings["submit_ms"] = _ms(t)
        return RoundReport(round_id, c.client_id or "", result, norm, clipped, timings,
                           len(ct), len(proof))

    def _skip(self, round_id: int, why: str, timings: dict[str, float]) -> RoundReport:
        return RoundReport(round_id, self.client.client_id or "", None, 0.0, 0.0, timings,
                           skipped=why)


def _past_deadline(cfg: dict[str, Any]) -> bool:
    deadline = cfg.get("deadline")
    return deadline is not None and time.time() > float(deadline)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)
