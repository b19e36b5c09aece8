"""Challenges c: sparse ternary, σ-invariant (c_{N−i} = −c_i, c_0 = c_{N/2} = 0).

c = Σ_{j<w} ε_j (X^{i_j} − X^{N−i_j}) with distinct i_j ∈ [1, N/2) and ε_j = ±1, so
σ(c) = c, ‖c‖_1 = 2w and |C| = binom(N/2 − 1, w)·2^w (≥ 2^128 for the default set).

As in LNP22, the challenge set is further restricted to ‖c‖_op ≤ η, the operator
(spectral) norm max_ζ |c(ζ)| over the primitive 2N-th roots of unity, so that
‖c·s‖_2 ≤ η·‖s‖_2 for EVERY witness s. The prover then never restarts on a
witness-dependent condition about c, and the mask widths use η. η is set so that
almost every c qualifies (|C'| ≈ |C|): η = √(2w·2·ln 2N), a sub-Gaussian bound on
the maximum of 2N values of a sum of 2w unit phases.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from .errors import ProofDecodeError

__all__ = ["Challenge", "challenge_weight", "challenge_space_bits", "sample_challenge",
           "operator_norm", "opnorm_bound"]


def opnorm_bound(n: int, w: int) -> float:
    """η: the public bound on ‖c‖_op used for the challenge set C'."""
    return math.sqrt(2 * w * 2 * math.log(2 * n))


def operator_norm(c: np.ndarray) -> float:
    """max |c(ζ)| over ζ = exp(iπ(2j+1)/N): the largest singular value of c's
    negacyclic rotation matrix, hence ‖c·s‖_2 ≤ operator_norm(c)·‖s‖_2."""
    n = c.shape[-1]
    twist = np.exp(1j * np.pi * np.arange(n) / n)
    return float(np.abs(np.fft.fft(c.astype(np.float64) * twist)).max())


def challenge_space_bits(n: int, w: int) -> float:
    return math.log2(math.comb(n // 2 - 1, w)) + w


def challenge_weight(n: int, target_bits: float = 128.0) -> int:
    """Smallest w with |C| ≥ 2^target_bits, or the w maximising |C| if none reaches it."""
    best_w, best = 1, 0.0
    for w in range(1, n // 2):
        bits = challenge_space_bits(n, w)
        if bits >= target_bits:
            return w
        if bits > best:
            best_w, best = w, bits
    return best_w


@dataclass(frozen=True)
class Challenge:
    n: int
    pairs: tuple[int, ...]  # sorted, distinct, in [1, N/2)
    signs: tuple[int, ...]  # ±1

    def __post_init__(self) -> None:
        if len(self.pairs) != len(self.signs) or not self.pairs:
            raise ProofDecodeError("challenge: pairs and signs differ in length")
        if any(not 1 <= i < self.n // 2 for i in self.pairs):
            raise ProofDecodeError("challenge: index out of range")
        if list(self.pairs) != sorted(set(self.pairs)):
            raise ProofDecodeError("challenge: indices not sorted and distinct")
        if any(s not in (1, -1) for s in self.signs):
            raise ProofDecodeError("challenge: sign not ±1")

    @property
    def positions(self) -> np.ndarray:
        """Monomial exponents of the 2w non-zero coefficients."""
        p = np.array(self.pairs, dtype=np.int64)
        return np.concatenate([p, self.n - p])

    @property
    def coefficients(self) -> np.ndarray:
        s = np.array(self.signs, dtype=np.int64)
        return np.concatenate([s, -s])

    def dense(self) -> np.ndarray:
        c = np.zeros(self.n, dtype=np.int64)
        c[self.positions] = self.coefficients
        return c

    def encode(self) -> bytes:
        idx = b"".join(i.to_bytes(2, "little") for i in self.pairs)
        bits = sum(1 << k for k, s in enumerate(self.signs) if s < 0)
        return idx + bits.to_bytes((len(self.signs) + 7) // 8, "little")

    @classmethod
    def decode(cls, data: bytes, n: int, w: int) -> Challenge:
        if len(data) != 2 * w + (w + 7) // 8:
            raise ProofDecodeError("challenge: wrong length")
        pairs = tuple(int.from_bytes(data[2 * k: 2 * k + 2], "little") for k in range(w))
        bits = int.from_bytes(data[2 * w:], "little")
        if bits >> w:
            raise ProofDecodeError("challenge: non-zero padding bits")
        signs = tuple(-1 if (bits >> k) & 1 else 1 for k in range(w))
        return cls(n, pairs, signs)


def sample_challenge(seed: bytes, n: int, w: int) -> Challenge:
    """Deterministic challenge in C' from transcript bytes: rejection sampling on
    16-bit words for the support, and on the operator norm (public, witness-free)."""
    bound = opnorm_bound(n, w)
    attempt = 0
    while True:
        c = _sample_in_c(seed + attempt.to_bytes(4, "little"), n, w)
        if operator_norm(c.dense()) <= bound:
            return c
        attempt += 1


def _sample_in_c(seed: bytes, n: int, w: int) -> Challenge:
    half = n // 2
    mask = (1 << (half - 1).bit_length()) - 1
    chosen: set[int] = set()
    counter = 0
    while len(chosen) < w:
        block = hashlib.shake_256(b"zkflpq-challenge-idx" + counter.to_bytes(4, "little")
                                  + seed).digest(16 * w + 64)
        counter += 1
        for k in range(0, len(block), 2):
            v = int.from_bytes(block[k: k + 2], "little") & mask
            if 1 <= v < half:
                chosen.add(v)
                if len(chosen) == w:
                    break
    sign_bits = int.from_bytes(
        hashlib.shake_256(b"zkflpq-challenge-sign" + seed).digest((w + 7) // 8), "little")
    signs = tuple(-1 if (sign_bits >> k) & 1 else 1 for k in range(w))
    return Challenge(n, tuple(sorted(chosen)), signs)
