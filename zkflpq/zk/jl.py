"""Johnson–Lindenstrauss projections Π ∈ {−1,0,1}^{256×n}, streamed in column blocks.

Entries: 0 w.p. 1/2, ±1 w.p. 1/4 each (GHL22/LNP22), two bits per entry from an
AES-256-CTR stream keyed by transcript output. Column block b covers the b-th
polynomial (N columns); within a block the stream is row-major. Memory is
O(256·N) per block, never O(256·d) (spec §8).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from threadpoolctl import ThreadpoolController

from ..ring import Csprng
from ..ring.threads import run_split

__all__ = ["JL_ROWS", "jl_project", "jl_combine", "jl_matrix_dense"]

JL_ROWS = 256
_COMBINE_COLS = 1024  # columns per decoded slab in jl_combine
_BLAS: ThreadpoolController | None = None  # scanned once: a scan costs ≈ 2 ms per call


def _one_blas_thread():
    global _BLAS
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def _entry_table() -> np.ndarray:
    lut = np.zeros((256, 4), dtype=np.float32)
    for byte in range(256):
        for t in range(4):
            lo, hi = (byte >> (2 * t)) & 1, (byte >> (2 * t + 1)) & 1
            lut[byte, t] = lo * (1 - 2 * hi)
    return lut


_LUT = _entry_table()


@nb.njit(cache=True, nogil=True)
def _decode_kernel(bits, lut, out):
    rows, nbytes = bits.shape
    for j in range(rows):
        for k in range(nbytes):
            b = bits[j, k]
            out[j, 4 * k] = lut[b, 0]
            out[j, 4 * k + 1] = lut[b, 1]
            out[j, 4 * k + 2] = lut[b, 2]
            out[j, 4 * k + 3] = lut[b, 3]


def _decode_block(bits: np.ndarray, out: np.ndarray) -> None:
    """Two bits (lo, hi) per entry → lo·(1 − 2·hi) ∈ {0, ±1} as float32."""
    _decode_kernel(bits, _LUT, out)


def _block_stream(seed: bytes, label: bytes, n: int, first: int = 0):
    """The entry bits of column blocks first, first + 1, ... (one AES-CTR stream; block b
    starts at byte b·64·n, a multiple of 16, so any block can be the first)."""
    nbytes = JL_ROWS * n // 4
    rng = Csprng.from_seed(seed, b"zkflpq-jl|" + label, first * nbytes)
    while True:
        yield np.frombuffer(rng.random_bytes(nbytes), dtype=np.uint8).reshape(JL_ROWS, n // 4)


@nb.njit(cache=True, nogil=True)
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
    w = np.ascontiguousarray(w, dtype=np.int64)
    parts: dict[int, np.ndarray] = {}

    def project(lo: int, hi: int) -> None:
        acc = np.zeros(JL_ROWS, dtype=np.int64)
        stream = _block_stream(seed, label, n, lo)
        for b in range(lo, hi):
            _project_block(next(stream), w[b], acc)
        parts[lo] = acc

    run_split(project, blocks, minimum=8)
    return sum((parts[lo] for lo in sorted(parts)), np.zeros(JL_ROWS, dtype=np.int64))


def jl_combine(seed: bytes, label: bytes, blocks: int, n: int, gamma: np.ndarray,
               first: int = 0) -> np.ndarray:
    """Σ_j γ_{r,j}·Π_j per repetition r, for γ of shape (ρ, 256) in [0, 2^32), over the
    column blocks first .. first + blocks − 1 of Π.

    Returns (ρ, blocks, N) int64, exact (|value| < 256·2^32 = 2^40). The product runs
    in single-threaded float32 BLAS on 16-bit halves of γ: every partial sum is below
    256·2^16 = 2^24, so float32 is exact (hence the same for any split). BLAS itself runs
    one thread: parallelism is over column blocks, with the caller's worker_threads.
    """
    gamma = np.asarray(gamma, dtype=np.int64)
    rho = gamma.shape[0]
    if gamma.shape != (rho, JL_ROWS) or gamma.min() < 0 or gamma.max() >= 1 << 32:
        raise ValueError("gamma must be (rho, 256) in [0, 2^32)")
    halves = np.concatenate([gamma >> 16, gamma & 0xFFFF]).astype(np.float32)  # (2ρ, 256)
    out = np.empty((rho, blocks, n), dtype=np.int64)
    cols = min(n, _COMBINE_COLS)

    def combine(lo: int, hi: int) -> None:
        dense = np.empty((JL_ROWS, cols), dtype=np.float32)
        stream = _block_stream(seed, label, n, first + lo)
        for b in range(lo, hi):
            bits = next(stream)
            # Column slabs of 256 × 1024 float32 (1 MiB) stay in cache between the decode
            # and the product; a whole 4 MiB block would go through memory twice.
            for c in range(0, n, cols):
                _decode_block(bits[:, c // 4: (c + cols) // 4], dense)
                part = (halves @ dense).astype(np.int64)
                out[:, b, c: c + cols] = (part[:rho] << 16) + part[rho:]

    with _one_blas_thread():
        run_split(combine, blocks, minimum=8)
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
