"""Johnson–Lindenstrauss projections Π ∈ {−1,0,1}^{256×n}, streamed in column blocks.

Entries: 0 w.p. 1/2, ±1 w.p. 1/4 each (GHL22/LNP22), two bits per entry from an
AES-256-CTR stream keyed by transcript output. Column block b covers the b-th
polynomial (N columns); within a block the stream is row-major. Memory is
O(256·N) per block, never O(256·d) (spec §8).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..ring import Csprng

__all__ = ["JL_ROWS", "jl_project", "jl_combine", "jl_matrix_dense"]

JL_ROWS = 256


@nb.njit(cache=True)
def _decode_block(bits, out):
    rows, nbytes = bits.shape
    for j in range(rows):
        for k in range(nbytes):
            b = bits[j, k]
            for t in range(4):
                lo = (b >> (2 * t)) & 1
                hi = (b >> (2 * t + 1)) & 1
                out[j, 4 * k + t] = np.float32(lo) * (np.float32(1.0) - np.float32(2.0) * hi)


def _block_stream(seed: bytes, label: bytes, n: int):
    rng = Csprng.from_seed(seed, b"zkflpq-jl|" + label)
    nbytes = JL_ROWS * n // 4
    while True:
        yield np.frombuffer(rng.random_bytes(nbytes), dtype=np.uint8).reshape(JL_ROWS, n // 4)


@nb.njit(cache=True)
def _project_block(bits, w, acc):
    # Branch-free: entry = lo·(1 − 2·hi) for the two bits of each entry.
    rows, nbytes = bits.shape
    for j in range(rows):
        s = np.int64(0)
        for k in range(nbytes):
            b = np.int64(bits[j, k])
            base = 4 * k
            for t in range(4):
                lo = (b >> (2 * t)) & 1
                hi = (b >> (2 * t + 1)) & 1
                s += lo * (1 - 2 * hi) * w[base + t]
        acc[j] += s


def jl_project(seed: bytes, label: bytes, w: np.ndarray) -> np.ndarray:
    """Π·w over Z for w of shape (blocks, N) int64 with |w| < 2^40; returns (256,) int64."""
    blocks, n = w.shape
    if w.size and np.abs(w).max() >= 1 << 40:
        raise ValueError("jl_project needs |w| < 2^40")
    acc = np.zeros(JL_ROWS, dtype=np.int64)
    stream = _block_stream(seed, label, n)
    for b in range(blocks):
        _project_block(next(stream), np.ascontiguousarray(w[b], dtype=np.int64), acc)
    return acc


@nb.njit(cache=True)
def _combine_block(bits, gamma, out):
    # out[r, c] = Σ_j gamma[r, j]·Π[j, c] for one column block, in float64: every
    # partial sum is an integer below 256·2^32 = 2^40 < 2^53, so it is exact.
    rows, nbytes = bits.shape
    rho = gamma.shape[0]
    n = 4 * nbytes
    e = np.empty(n, dtype=np.float64)
    for r in range(rho):
        for c in range(n):
            out[r, c] = 0.0
    for j in range(rows):
        for k in range(nbytes):
            b = bits[j, k]
            for t in range(4):
                lo = (b >> (2 * t)) & 1
                hi = (b >> (2 * t + 1)) & 1
                e[4 * k + t] = np.float64(lo) * (1.0 - 2.0 * np.float64(hi))
        for r in range(rho):
            g = gamma[r, j]
            for c in range(n):
                out[r, c] += e[c] * g


def jl_combine(seed: bytes, label: bytes, blocks: int, n: int, gamma: np.ndarray) -> np.ndarray:
    """Σ_j γ_{r,j}·Π_j per repetition r, for γ of shape (ρ, 256) in [0, 2^32).

    Returns (ρ, blocks, N) int64, exact (|value| < 256·2^32 = 2^40). Single-threaded
    numba kernel (no BLAS threads, so one-core benchmarks measure one core).
    """
    gamma = np.asarray(gamma, dtype=np.int64)
    rho = gamma.shape[0]
    if gamma.shape != (rho, JL_ROWS) or gamma.min() < 0 or gamma.max() >= 1 << 32:
        raise ValueError("gamma must be (rho, 256) in [0, 2^32)")
    gamma_f = np.ascontiguousarray(gamma, dtype=np.float64)
    out = np.empty((rho, blocks, n), dtype=np.int64)
    part = np.empty((rho, n), dtype=np.float64)
    stream = _block_stream(seed, label, n)
    for b in range(blocks):
        _combine_block(next(stream), gamma_f, part)
        out[:, b, :] = part
    return out


def jl_matrix_dense(seed: bytes, label: bytes, blocks: int, n: int) -> np.ndarray:
    """The whole Π as (256, blocks·N) int64 — for tests and naive twins only."""
    stream = _block_stream(seed, label, n)
    dense = np.empty((JL_ROWS, n), dtype=np.float32)
    cols = []
    for _ in range(blocks):
        _decode_block(next(stream), dense)
        cols.append(dense.astype(np.int64))
    return np.concatenate(cols, axis=1)
