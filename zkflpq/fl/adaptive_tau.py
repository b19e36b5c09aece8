"""Adaptive norm bound: the next round's τ from public information only.

A fixed τ must be set for the worst honest round (the first: the largest updates), so
later in training it is many times the honest norms and every attacker who scales its
update to the bound passes. This rule tightens τ as the honest updates shrink, using
only what the aggregator legitimately learns — the decrypted mean of the accepted
updates of past rounds and how many were accepted — never an individual update.

Rule ``zkflpq-adaptive-tau/v1``::

    τ_{r+1} = min(ceiling, max(floor, multiplier · max_{j in last `window` rounds}
                                          sqrt(K_j) · ‖Δ̄_j‖₂))

with Δ̄_j the mean update of round j (new global model − old) and K_j its number of
accepted updates; with no history τ = ``initial`` (default: ``ceiling``).

Why sqrt(K)·‖Δ̄‖: for K updates of common norm ν the mean has norm ν when they are
parallel and ν/sqrt(K) when they are orthogonal (strongly non-IID clients), so
sqrt(K)·‖Δ̄‖ is an upper estimate of a typical update's norm whatever their alignment;
``multiplier`` leaves room for clients whose updates are larger than the typical one and
for rounds whose updates grow. Honest clients clip to the round's τ, so the rule never
rejects an honest update; a too-tight τ shows as honest updates clipped (accuracy), which
the experiments report. An attacker's own update enters the mean: alone it moves the next
τ by at most ``multiplier · τ_r / sqrt(K)`` (below τ_r while multiplier < sqrt(K)), and the
ceiling caps the rest. What no norm bound can stop: updates with an honest norm and a
harmful direction.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RULE_ID", "AdaptiveTau", "AggregateObservation"]

RULE_ID = "zkflpq-adaptive-tau/v1"


@dataclass(frozen=True)
class AggregateObservation:
    """What one closed round makes public: ‖Δ̄‖₂ of the decrypted mean update (≥ 0,
    finite) and the number of updates K (≥ 1) that were summed."""

    mean_update_norm: float
    n_accepted: int

    def __post_init__(self) -> None:
        # numbers.Real, not int | float: numpy scalars (what experiments compute) are fine;
        # a bool, a string or an infinite count is a ValueError like any other bad value
        # (not silently 1, nor a TypeError / OverflowError from the comparisons below).
        norm = self.mean_update_norm
        if isinstance(norm, bool) or not isinstance(norm, numbers.Real) \
                or not (math.isfinite(norm) and norm >= 0):
            raise ValueError("mean_update_norm must be finite and >= 0")
        k = self.n_accepted
        if isinstance(k, bool) or not isinstance(k, numbers.Real) or not math.isfinite(k) \
                or int(k) != k or k < 1:
            raise ValueError("n_accepted must be an integer >= 1")


def _finite_number(v: object) -> bool:
    """An int or float (numpy's included), finite, and not a bool."""
    return not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)


@dataclass(frozen=True)
class AdaptiveTau:
    """Parameters of rule :data:`RULE_ID` (see the module docstring).

    ``floor`` ≤ ``initial`` ≤ ``ceiling`` are L2 norms in model units (> 0, finite);
    ``multiplier`` ≥ 1; ``window`` ≥ 1 past rounds. ``initial`` = None means
    ``ceiling``.
    """

    multiplier: float = 1.5
    floor: float = 0.01
    ceiling: float = 5.0
    window: int = 1
    initial: float | None = None

    def __post_init__(self) -> None:
        for name in ("multiplier", "floor", "ceiling"):
            v = getattr(self, name)
            if not _finite_number(v) or v <= 0:
                raise ValueError(f"{name} must be a finite number > 0")
        if self.multiplier < 1:
            raise ValueError("multiplier must be >= 1")
        if self.floor > self.ceiling:
            raise ValueError("floor must be <= ceiling")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise ValueError("window must be an integer >= 1")
        if self.initial is not None:
            v = self.initial
            if not _finite_number(v) or not self.floor <= v <= self.ceiling:
                raise ValueError("initial must be a finite number in [floor, ceiling]")

    @property
    def start(self) -> float:
        """τ of a round with no history."""
        return float(self.ceiling if self.initial is None else self.initial)

    def next_tau(self, history: Iterable[AggregateObservation]) -> float:
        """τ for the next round from past rounds' observations, oldest first."""
        past = list(history)[-self.window:]
        if not past:
            return self.start
        est = max(math.sqrt(o.n_accepted) * o.mean_update_norm for o in past)
        return float(min(self.ceiling, max(self.floor, self.multiplier * est)))

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with the rule's identifier (recorded with every round that uses it)."""
        return {"rule": RULE_ID, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdaptiveTau:
        """Strict inverse of :meth:`to_dict`: unknown rule or keys → ValueError."""
        if not isinstance(data, Mapping):
            raise ValueError("adaptive τ rule must be an object")
        fields = dict(data)
        rule = fields.pop("rule", RULE_ID)
        if rule != RULE_ID:
            raise ValueError(f"unknown τ rule {rule!r}; known: {RULE_ID}")
        unknown = set(fields) - {"multiplier", "floor", "ceiling", "window", "initial"}
        if unknown:
            # str(): a non-string key must give this ValueError, not a TypeError of join
            raise ValueError("unknown τ rule field(s): "
                             + ", ".join(sorted(str(k) for k in unknown)))
        return cls(**fields)
