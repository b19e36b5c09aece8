"""Fixed-point encoder: float vectors ↔ BFV plaintext chunks with a hard L2 bound.

A model update x ∈ R^d becomes k = ceil(d/N) plaintext chunks m ∈ Z^{k×N}
(zero padded) with

    ‖m‖_2 ≤ B = floor(τ·scale)                                   (guaranteed)

which is the statement the norm proof (zkflpq.zk) certifies. How the
guarantee is obtained:

1. Let ρ(d) be a bound on the L2 rounding error ‖round(y) − y‖_2 for y ∈ R^d:
   ρ = √d/2 for round-to-nearest (each coordinate moves by ≤ 1/2) and ρ = √d
   for stochastic rounding (each coordinate moves by < 1).
2. Clip x to the L2 ball of radius r = (B − ρ)/scale (shrunk by a relative
   2^-40 to absorb float64 error in computing the norm and the scaling).
3. Round y = x·scale. Then ‖m‖_2 ≤ ‖y‖_2 + ρ ≤ (B − ρ) + ρ = B.
4. The integer norm ‖m‖_2² ≤ B² is then checked exactly (integer
   arithmetic); in the (never observed) case float error broke step 2, the
   clip radius is shrunk and steps 2–4 repeat, so the output always obeys
   the bound.

Clipping costs at most ρ/scale of radius compared with clipping to τ itself:
for d = 2^20 and scale = 2^16 that is 2^-7 in absolute L2 terms.

Decoding divides by scale (and by the number of summed updates, for
aggregates). Below the clip radius the per-coordinate error of
decode(encode(x)) is ≤ 1/(2·scale) (deterministic) or < 1/scale (stochastic).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..ring import Csprng
from .params import BfvParams

__all__ = ["Encoder", "norm_bound", "rounding_error_bound"]

# Relative safety margin on the clip radius (float64 has 53 bits; the norm of a
# d-vector, d ≤ 2^30, is computed with relative error well below 2^-40).
_FLOAT_MARGIN = 2.0**-40


def norm_bound(tau: float, scale: float) -> int:
    """B = floor(τ·scale), computed exactly from the two float values."""
    if not (math.isfinite(tau) and tau > 0):
        raise ValueError("tau must be a positive finite number")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError("scale must be a positive finite number")
    return math.floor(Fraction(tau) * Fraction(scale))


def rounding_error_bound(d: int, stochastic: bool = False) -> float:
    """ρ(d): bound on ‖round(y) − y‖_2 for y ∈ R^d (√d/2, or √d for stochastic rounding)."""
    if d < 0:
        raise ValueError("d must be non-negative")
    return math.sqrt(d) if stochastic else math.sqrt(d) / 2


def _l2_norm(x: np.ndarray) -> float:
    """‖x‖_2 without overflow/underflow for any finite x."""
    amax = float(np.max(np.abs(x))) if x.size else 0.0
    if amax == 0.0:
        return 0.0
    y = x / amax
    return amax * math.sqrt(float(np.dot(y, y)))


def _squared_norm_exceeds(m: np.ndarray, bound: int) -> bool:
    """Exact test ‖m‖_2² > bound² for int64 m with |m_i| < 2^62 (no overflow)."""
    b2 = bound * bound
    mf = m.astype(np.float64)
    approx = float(np.dot(mf, mf))
    if approx > 2.0**62:  # then ‖m‖² > 2^62·(1 − 2^-40) > B² as B < 2^31
        return True
    # Every term and the total are < 2^63 here, so the int64 sum is exact.
    exact = int(np.sum(m * m, dtype=np.int64))
    return exact > b2


class Encoder:
    """Clip-and-quantise encoder for one parameter set.

    scale: fixed-point factor (a coordinate x_i becomes ≈ x_i·scale).
    tau: L2 clipping norm τ; B = floor(τ·scale) is then a hard bound on ‖m‖_2.
         With tau=None nothing is clipped and encode() raises if a coefficient
         does not fit the plaintext space (−t/2, t/2].
    stochastic: unbiased stochastic rounding (randomness from a Csprng)
         instead of round-to-nearest.
    """

    def __init__(self, params: BfvParams, scale: float, tau: float | None = None,
                 stochastic: bool = False) -> None:
        scale = float(scale)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError("scale must be a positive finite number")
        self.params = params
        self.scale = scale
        self.stochastic = bool(stochastic)
        self.tau: float | None
        self.bound: int | None
        if tau is None:
            self.tau = None
            self.bound = None
        else:
            self.tau = float(tau)
            self.bound = norm_bound(self.tau, scale)
            if self.bound < 1:
                raise ValueError("tau·scale must be at least 1")
            if self.bound > params.t // 2 - 1:
                raise ValueError(f"B = floor(tau·scale) = {self.bound} does not fit the "
                                 f"plaintext space: need B < t/2 = {params.t // 2}")

    def __repr__(self) -> str:
        return (f"Encoder(params={self.params.name!r}, scale={self.scale!r}, tau={self.tau!r}, "
                f"stochastic={self.stochastic!r}, bound={self.bound!r})")

    # -- sizes and radii ---------------------------------------------------------
    def num_chunks(self, d: int) -> int:
        """k = ceil(d/N) plaintext chunks for a d-dimensional vector."""
        if d < 1:
            raise ValueError("d must be positive")
        return -(-d // self.params.n)

    def rounding_error_bound(self, d: int) -> float:
        return rounding_error_bound(d, self.stochastic)

    def clip_radius(self, d: int) -> float:
        """L2 radius (in float units) that x is clipped to: (B − ρ(d))/scale, less 2^-40."""
        if self.bound is None:
            return math.inf
        slack = self.bound - self.rounding_error_bound(d)
        if slack <= 0:
            raise ValueError(f"B = {self.bound} is not larger than the rounding error bound "
                             f"{self.rounding_error_bound(d):.1f} for d = {d}: increase tau·scale")
        return slack / self.scale * (1.0 - _FLOAT_MARGIN)

    # -- encode / decode ---------------------------------------------------------
    def encode(self, x: np.ndarray, rng: Csprng | None = None) -> np.ndarray:
        """Float vector (d,) → plaintext chunks (ceil(d/N), N) int64 with ‖m‖_2 ≤ B."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError("encode expects a 1-D vector")
        d = x.shape[0]
        k = self.num_chunks(d)
        if not np.all(np.isfinite(x)):
            raise ValueError("vector contains NaN or infinity")
        if self.stochastic and rng is None:
            rng = Csprng()
        n = self.params.n
        half = self.params.t // 2

        if self.bound is None:
            y = x * self.scale
            if np.max(np.abs(y)) >= half:
                raise ValueError("a coefficient does not fit the plaintext space; set tau")
            m = self._round(y, rng)
            if m.min() <= -half or m.max() > half:
                raise ValueError("a coefficient does not fit the plaintext space; set tau")
        else:
            radius = self.clip_radius(d)
            norm = _l2_norm(x)
            for _ in range(64):
                xc = x * (radius / norm) if norm > radius else x
                m = self._round(xc * self.scale, rng)
                if not _squared_norm_exceeds(m, self.bound):
                    break
                radius *= 1.0 - 2.0**-20  # float error defeated the margin: shrink, retry
            else:  # pragma: no cover - unreachable in float64
                raise RuntimeError("could not meet the norm bound")
        out = np.zeros(k * n, dtype=np.int64)
        out[:d] = m
        return out.reshape(k, n)

    def _round(self, y: np.ndarray, rng: Csprng | None) -> np.ndarray:
        if not self.stochastic:
            return np.rint(y).astype(np.int64)
        assert rng is not None
        fl = np.floor(y)
        # 53-bit uniforms in [0, 1): round up with probability frac(y).
        u = (rng.uint64(y.shape[0]) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        return (fl + (u < (y - fl))).astype(np.int64)

    def decode(self, chunks: np.ndarray, d: int, n_summed: int = 1) -> np.ndarray:
        """Plaintext chunks (k, N) → float64 vector (d,), divided by scale·n_summed.

        With n_summed = K this turns the decrypted sum of K updates into their mean.
        """
        m = np.asarray(chunks)
        k = self.num_chunks(d)
        if m.shape != (k, self.params.n):
            raise ValueError(f"expected chunks of shape ({k}, {self.params.n}), got {m.shape}")
        if n_summed < 1:
            raise ValueError("n_summed must be at least 1")
        return m.reshape(-1)[:d].astype(np.float64) / (self.scale * n_summed)
