"""Randomness: an AES-256-CTR stream (secret or seeded) and the samplers on top of it.

Secret randomness comes from `Csprng()` (key from os.urandom). Public expansions
(matrices, challenges) use `Csprng.from_seed(seed, label)`, whose key is
SHAKE-256(label ‖ seed): AES-CTR is used as the XOF because it is an order of
magnitude faster than SHAKE for the megabytes the JL matrices need.
"""

from __future__ import annotations

import hashlib
import math
import os

import numba as nb
import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "Csprng",
    "uniform_mod",
    "ternary",
    "centered_binomial",
    "discrete_gaussian",
    "rounded_gaussian_from_uniform",
    "uniform_open_128",
]


class Csprng:
    """AES-256-CTR keystream; fresh from os.urandom unless built with `from_seed`."""

    def __init__(self, key: bytes | None = None, offset: int = 0) -> None:
        key = os.urandom(32) if key is None else key
        if len(key) != 32:
            raise ValueError("key must be 32 bytes")
        if offset < 0 or offset % 16:
            raise ValueError("offset must be a non-negative multiple of 16 bytes")
        # CTR counts AES blocks as one 128-bit big-endian counter from 0: starting at block
        # offset/16 gives exactly the bytes of the stream from `offset` on.
        counter = (offset // 16).to_bytes(16, "big")
        self._enc = Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()

    @classmethod
    def from_seed(cls, seed: bytes, label: bytes, offset: int = 0) -> Csprng:
        """Deterministic stream bound to a domain label (public expansion), read from byte
        `offset` on (a multiple of 16), so that slices of it can be expanded in parallel."""
        h = hashlib.shake_256()
        h.update(len(label).to_bytes(4, "little") + label + seed)
        return cls(h.digest(32), offset)

    def random_bytes(self, n: int) -> bytes:
        return self._enc.update(b"\x00" * n)

    def uint32(self, count: int) -> np.ndarray:
        return np.frombuffer(self.random_bytes(4 * count), dtype=np.uint32).copy()

    def uint64(self, count: int) -> np.ndarray:
        return np.frombuffer(self.random_bytes(8 * count), dtype=np.uint64).copy()

    def uint8(self, count: int) -> np.ndarray:
        return np.frombuffer(self.random_bytes(count), dtype=np.uint8).copy()


@nb.njit(cache=True)
def _accept_below(words, mask, bound, out):
    k = 0
    for w in words:
        v = np.int64(w & mask)
        if v < bound:
            out[k] = v
            k += 1
            if k == out.shape[0]:
                break
    return k


def _uniform_below(rng: Csprng, bound: int, count: int) -> np.ndarray:
    mask = (1 << bound.bit_length()) - 1
    out = np.empty(count, dtype=np.int64)
    filled = 0
    while filled < count:
        need = count - filled
        # Acceptance ≥ 1/2; over-draw so one pass almost always suffices.
        words = rng.uint32(need * 2 + 64)
        filled += _accept_below(words, np.uint32(mask), bound, out[filled:])
    return out


def uniform_mod(rng: Csprng, primes: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """Uniform element of Z_q in RNS form: shape (..., L, n) with independent residues."""
    *lead, n = shape
    count = math.prod(lead) * n
    parts = [_uniform_below(rng, p, count).reshape(*lead, n) for p in primes]
    return np.stack(parts, axis=-2)


@nb.njit(cache=True)
def _ternary_from_bytes(b, out):
    k = 0
    for x in b:
        if x < 255:  # 255 = 3·85: bytes below it are uniform mod 3
            out[k] = np.int64(x % 3) - 1
            k += 1
            if k == out.shape[0]:
                break
    return k


def ternary(rng: Csprng, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform {−1, 0, 1} coefficients, int64."""
    count = math.prod(shape)
    out = np.empty(count, dtype=np.int64)
    filled = 0
    while filled < count:
        filled += _ternary_from_bytes(rng.uint8(count - filled + 64), out[filled:])
    return out.reshape(shape)


@nb.njit(cache=True)
def _cbd_kernel(words, eta, out):
    # Each sample uses two eta-bit halves of one 64-bit word (eta ≤ 32).
    mask = (np.uint64(1) << np.uint64(eta)) - np.uint64(1)
    for i in range(out.shape[0]):
        w = words[i]
        a = w & mask
        b = (w >> np.uint64(32)) & mask
        ca = 0
        cb = 0
        while a:
            a &= a - np.uint64(1)
            ca += 1
        while b:
            b &= b - np.uint64(1)
            cb += 1
        out[i] = ca - cb


def centered_binomial(rng: Csprng, eta: int, shape: tuple[int, ...]) -> np.ndarray:
    """Centred binomial CBD_η (variance η/2), η in [1, 32], int64."""
    if not 1 <= eta <= 32:
        raise ValueError("eta must be in [1, 32]")
    count = math.prod(shape)
    out = np.empty(count, dtype=np.int64)
    _cbd_kernel(rng.uint64(count), eta, out)
    return out.reshape(shape)


@nb.njit(cache=True)
def uniform_open_128(hi, lo):
    """(hi·2^64 + lo + 1)·2^-128 ∈ (0, 1] as a float64 (relative error ≤ 2^-52).

    The smallest value is 2^-128 rather than 2^-53, which is what moves the Box–Muller
    radius cap from 8.57σ to 13.3σ (proofs/security.md §6.7).
    """
    two_m64 = 5.421010862427522e-20  # 2^-64
    return (np.float64(hi) + (np.float64(lo) + 1.0) * two_m64) * two_m64


@nb.njit(cache=True)
def rounded_gaussian_from_uniform(words, sigma, out):
    """Box–Muller, rounded to the nearest integer; three 64-bit words per output pair.

    The radius uses a 128-bit uniform (`uniform_open_128`), the angle a 53-bit one.
    Rounded continuous Gaussians of width σ ≥ 4 are within a small Rényi divergence
    of D_{Z,σ} (see proofs/); used only for large widths.
    """
    two_pi = 2.0 * np.pi
    scale = 1.0 / 9007199254740992.0  # 2^-53
    half = out.shape[0] // 2 + out.shape[0] % 2
    for i in range(half):
        u1 = uniform_open_128(words[3 * i], words[3 * i + 1])
        u2 = np.float64(words[3 * i + 2] >> np.uint64(11)) * scale
        r = sigma * np.sqrt(-2.0 * np.log(u1))
        out[2 * i] = np.int64(np.rint(r * np.cos(two_pi * u2)))
        if 2 * i + 1 < out.shape[0]:
            out[2 * i + 1] = np.int64(np.rint(r * np.sin(two_pi * u2)))


def discrete_gaussian(rng: Csprng, sigma: float, shape: tuple[int, ...]) -> np.ndarray:
    """Rounded Gaussian of width σ (standard deviation), int64; σ must be ≥ 4."""
    if not sigma >= 4.0:
        raise ValueError("the rounded-Gaussian sampler is only argued for sigma >= 4")
    count = math.prod(shape)
    out = np.empty(count, dtype=np.int64)
    rounded_gaussian_from_uniform(rng.uint64(3 * ((count + 1) // 2)), float(sigma), out)
    return out.reshape(shape)
