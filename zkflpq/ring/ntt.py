"""Negacyclic number-theoretic transform over Z_p[X]/(X^N + 1), p < 2^31.

Forward: Cooley–Tukey, natural order in, bit-reversed order out; inverse:
Gentleman–Sande, bit-reversed in, natural out (Longa–Naehrig 2016 layout).

Arithmetic is 32-bit so that LLVM vectorises the butterflies (8 lanes on AVX2):
- twiddle products use Shoup's precomputed quotient w' = floor(w·2^32/p): for an
  input a < 2^32, q = (a·w') >> 32 and r = a·w − q·p lies in [0, 2p), so it can be
  computed modulo 2^32 with 32-bit multiplies (only a·w' needs 32×32→64 bits);
- every value is kept fully reduced in [0, p) with branch-free corrections
  x ↦ min(x, x − p) (unsigned wrap-around), so sums stay below 2p < 2^32.
Hence any p < 2^31 works. Layers with butterfly distance t ≥ 8 run as contiguous
block loops (vectorised); the last three forward / first three inverse layers are
unrolled per block. Public functions take and return int64 residues in [0, p).
Pointwise products in the NTT domain are order-independent, so the bit-reversed
order never leaks out of this module except through `forward`'s output layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba as nb
import numpy as np

from .primes import primitive_2n_root
from .threads import run_split

__all__ = ["NttTables", "multiply_accumulate", "ntt_forward", "ntt_inverse", "pointwise_mul"]

_U32 = np.uint64(32)


def _bit_reverse(i: int, bits: int) -> int:
    return int(format(i, f"0{bits}b")[::-1], 2) if bits else 0


@dataclass(frozen=True)
class NttTables:
    """Twiddle tables for one ring degree n and several primes (one row each), uint32."""

    n: int
    primes: tuple[int, ...]
    psi: np.ndarray = field(repr=False)  # (L, n) ψ^brv(i)
    psi_shoup: np.ndarray = field(repr=False)  # (L, n) floor(ψ^brv(i)·2^32 / p)
    psi_inv: np.ndarray = field(repr=False)  # (L, n) ψ^-brv(i)
    psi_inv_shoup: np.ndarray = field(repr=False)
    n_inv: np.ndarray = field(repr=False)  # (L,) n^-1 mod p
    n_inv_shoup: np.ndarray = field(repr=False)
    p: np.ndarray = field(repr=False)  # (L,)

    @classmethod
    def build(cls, n: int, primes: tuple[int, ...]) -> NttTables:
        bits = n.bit_length() - 1
        L = len(primes)
        psi = np.zeros((L, n), np.uint32)
        psi_inv = np.zeros((L, n), np.uint32)
        psi_s = np.zeros((L, n), np.uint32)
        psi_inv_s = np.zeros((L, n), np.uint32)
        n_inv = np.zeros(L, np.uint32)
        n_inv_s = np.zeros(L, np.uint32)
        for j, p in enumerate(primes):
            if p >= 1 << 31:
                raise ValueError("primes must be below 2^31")
            root = primitive_2n_root(p, n)
            root_inv = pow(root, -1, p)
            for i in range(n):
                r = _bit_reverse(i, bits)
                w, wi = pow(root, r, p), pow(root_inv, r, p)
                psi[j, i], psi_s[j, i] = w, (w << 32) // p
                psi_inv[j, i], psi_inv_s[j, i] = wi, (wi << 32) // p
            ni = pow(n, -1, p)
            n_inv[j], n_inv_s[j] = ni, (ni << 32) // p
        return cls(n, tuple(primes), psi, psi_s, psi_inv, psi_inv_s, n_inv, n_inv_s,
                   np.array(primes, dtype=np.uint32))


@nb.njit(cache=True, inline="always")
def _mul_shoup(a, w, ws, p):
    # a, w, ws, p: uint32 with a < 2^32, w < p < 2^31 → a·w mod p in [0, p).
    q = np.uint32((np.uint64(a) * np.uint64(ws)) >> _U32)
    r = np.uint32(np.uint32(np.uint64(a) * np.uint64(w)) - np.uint32(np.uint64(q) * np.uint64(p)))
    r2 = np.uint32(r - p)
    return r2 if r2 < r else r  # r ∈ [0, 2p): subtract p once if needed


@nb.njit(cache=True, inline="always")
def _reduce_once(x, p):
    # x < 2p (as uint32) → x mod p
    x2 = np.uint32(x - p)
    return x2 if x2 < x else x


@nb.njit(cache=True, inline="always")
def _ct(x, j, k, w, ws, p):
    # Cooley–Tukey butterfly on x[j], x[k]: (u + w·v, u − w·v)
    u = x[j]
    v = _mul_shoup(x[k], w, ws, p)
    x[j] = _reduce_once(np.uint32(u + v), p)
    x[k] = _reduce_once(np.uint32(u - v + p), p)


@nb.njit(cache=True, inline="always")
def _gs(x, j, k, w, ws, p):
    # Gentleman–Sande butterfly on x[j], x[k]: (u + v, (u − v)·w)
    u = x[j]
    v = x[k]
    x[j] = _reduce_once(np.uint32(u + v), p)
    x[k] = _mul_shoup(np.uint32(u - v + p), w, ws, p)


@nb.njit(cache=True, inline="always")
def _ct_block(lo, hi, w, ws, p):
    for k in range(lo.shape[0]):
        u = lo[k]
        v = _mul_shoup(hi[k], w, ws, p)
        lo[k] = _reduce_once(np.uint32(u + v), p)
        hi[k] = _reduce_once(np.uint32(u - v + p), p)


@nb.njit(cache=True, inline="always")
def _gs_block(lo, hi, w, ws, p):
    for k in range(lo.shape[0]):
        u = lo[k]
        v = hi[k]
        lo[k] = _reduce_once(np.uint32(u + v), p)
        hi[k] = _mul_shoup(np.uint32(u - v + p), w, ws, p)


@nb.njit(cache=True)
def _forward_row(x, psi, psi_s, p):
    n = x.shape[0]
    t = n
    m = 1
    while m < n:
        t >>= 1
        if t >= 8:
            for i in range(m):
                j1 = 2 * i * t
                _ct_block(x[j1:j1 + t], x[j1 + t:j1 + 2 * t], psi[m + i], psi_s[m + i], p)
        elif t == 4:
            for i in range(m):
                j, w, ws = 8 * i, psi[m + i], psi_s[m + i]
                _ct(x, j, j + 4, w, ws, p)
                _ct(x, j + 1, j + 5, w, ws, p)
                _ct(x, j + 2, j + 6, w, ws, p)
                _ct(x, j + 3, j + 7, w, ws, p)
        elif t == 2:
            for i in range(m):
                j, w, ws = 4 * i, psi[m + i], psi_s[m + i]
                _ct(x, j, j + 2, w, ws, p)
                _ct(x, j + 1, j + 3, w, ws, p)
        else:
            for i in range(m):
                _ct(x, 2 * i, 2 * i + 1, psi[m + i], psi_s[m + i], p)
        m <<= 1


@nb.njit(cache=True)
def _inverse_row(x, psi_inv, psi_inv_s, n_inv, n_inv_s, p):
    n = x.shape[0]
    t = 1
    m = n
    while m > 1:
        h = m >> 1
        if t >= 8:
            for i in range(h):
                j1 = 2 * i * t
                _gs_block(x[j1:j1 + t], x[j1 + t:j1 + 2 * t], psi_inv[h + i],
                          psi_inv_s[h + i], p)
        elif t == 4:
            for i in range(h):
                j, w, ws = 8 * i, psi_inv[h + i], psi_inv_s[h + i]
                _gs(x, j, j + 4, w, ws, p)
                _gs(x, j + 1, j + 5, w, ws, p)
                _gs(x, j + 2, j + 6, w, ws, p)
                _gs(x, j + 3, j + 7, w, ws, p)
        elif t == 2:
            for i in range(h):
                j, w, ws = 4 * i, psi_inv[h + i], psi_inv_s[h + i]
                _gs(x, j, j + 2, w, ws, p)
                _gs(x, j + 1, j + 3, w, ws, p)
        else:
            for i in range(h):
                _gs(x, 2 * i, 2 * i + 1, psi_inv[h + i], psi_inv_s[h + i], p)
        t <<= 1
        m = h
    for j in range(n):
        x[j] = _mul_shoup(x[j], n_inv, n_inv_s, p)


@nb.njit(cache=True, nogil=True)
def _forward_kernel(src, dst, psi, psi_s, p):
    # src, dst: (B, L, n) int64 residues in [0, p); dst may be src. Output in [0, p).
    B, L, n = src.shape
    x = np.empty(n, dtype=np.uint32)
    for b in range(B):
        for l in range(L):
            row = src[b, l]
            for j in range(n):
                x[j] = np.uint32(row[j])
            _forward_row(x, psi[l], psi_s[l], p[l])
            out = dst[b, l]
            for j in range(n):
                out[j] = np.int64(x[j])


@nb.njit(cache=True, nogil=True)
def _inverse_kernel(src, dst, psi_inv, psi_inv_s, n_inv, n_inv_s, p):
    B, L, n = src.shape
    x = np.empty(n, dtype=np.uint32)
    for b in range(B):
        for l in range(L):
            row = src[b, l]
            for j in range(n):
                x[j] = np.uint32(row[j])
            _inverse_row(x, psi_inv[l], psi_inv_s[l], n_inv[l], n_inv_s[l], p[l])
            out = dst[b, l]
            for j in range(n):
                out[j] = np.int64(x[j])


@nb.njit(cache=True, inline="always")
def mulmod(a, b, p, pinv):
    """a·b mod p for int64 a, b ≥ 0 with a·b < 2^62 and p < 2^31, pinv = 1/p: the float
    quotient is off by at most one (relative error 2^-52), a·b − q·p is exact in int64."""
    q = np.int64(float(a) * float(b) * pinv)
    r = a * b - q * p
    if r < 0:
        r += p
    elif r >= p:
        r -= p
    return r


@nb.njit(cache=True, nogil=True)
def _pointwise_kernel(a, b, out, p):
    B, L, n = a.shape
    for k in range(B):
        for l in range(L):
            pl = p[l]
            pinv = 1.0 / float(pl)
            for j in range(n):
                out[k, l, j] = mulmod(a[k, l, j], b[k, l, j], pl, pinv)


def _rows_per_thread(row_size: int) -> int:
    """Rows of `row_size` values a thread must get for a split to pay for the hand-off
    (≈ 2^17 values, some tens of microseconds of work)."""
    return max(1, (1 << 17) // max(1, row_size))


def _as_batch(a: np.ndarray, L: int, n: int) -> np.ndarray:
    if a.shape[-2:] != (L, n):
        raise ValueError(f"expected trailing shape ({L}, {n}), got {a.shape}")
    return a.reshape(-1, L, n)


def ntt_forward(a: np.ndarray, tables: NttTables) -> np.ndarray:
    """NTT of residues `a` (..., L, n) int64 in [0, p); returns a new int64 array."""
    src = np.ascontiguousarray(a, dtype=np.int64)
    out = np.empty_like(src)
    L, n = len(tables.primes), tables.n
    sb, ob = _as_batch(src, L, n), _as_batch(out, L, n)
    run_split(lambda lo, hi: _forward_kernel(sb[lo:hi], ob[lo:hi], tables.psi,
                                             tables.psi_shoup, tables.p), sb.shape[0],
              minimum=_rows_per_thread(L * n))
    return out


def ntt_inverse(a: np.ndarray, tables: NttTables) -> np.ndarray:
    """Inverse of `ntt_forward`; returns a new int64 array in [0, p)."""
    src = np.ascontiguousarray(a, dtype=np.int64)
    out = np.empty_like(src)
    L, n = len(tables.primes), tables.n
    sb, ob = _as_batch(src, L, n), _as_batch(out, L, n)
    run_split(lambda lo, hi: _inverse_kernel(sb[lo:hi], ob[lo:hi], tables.psi_inv,
                                             tables.psi_inv_shoup, tables.n_inv,
                                             tables.n_inv_shoup, tables.p), sb.shape[0],
              minimum=_rows_per_thread(L * n))
    return out


def pointwise_mul(a: np.ndarray, b: np.ndarray, tables: NttTables) -> np.ndarray:
    """a ⊙ b mod p per row; shapes (..., L, n) broadcast against each other."""
    a, b = np.broadcast_arrays(a, b)
    shape = a.shape
    L, n = len(tables.primes), tables.n
    a = np.ascontiguousarray(a, dtype=np.int64).reshape(-1, L, n)
    b = np.ascontiguousarray(b, dtype=np.int64).reshape(-1, L, n)
    out = np.empty_like(a)
    p = tables.p.astype(np.int64)
    run_split(lambda lo, hi: _pointwise_kernel(a[lo:hi], b[lo:hi], out[lo:hi], p), a.shape[0],
              minimum=_rows_per_thread(L * n))
    return out.reshape(shape)


@nb.njit(cache=True, nogil=True)
def _mac_kernel(a, b, out, p, chunk, j0, j1):
    # out[r, l, j] = Σ_k a[r, k, l, j]·b[k, l, j] mod p_l. Raw products (< 2^62) are summed
    # in uint64, `chunk` of them at a time (chunk·(p−1)² + p < 2^64), then reduced once
    # with a float quotient estimate (off by at most one) and an exact fix-up: one
    # reduction per `chunk` terms instead of one per term.
    # Only coefficients j0 ≤ j < j1 (one thread's share).
    R, K, L, n = a.shape
    acc = np.zeros(j1 - j0, dtype=np.uint64)
    for r in range(R):
        for l in range(L):
            pu = np.uint64(p[l])
            pi = np.int64(p[l])
            pinv = 1.0 / float(p[l])
            acc[:] = 0
            for k0 in range(0, K, chunk):
                for k in range(k0, min(K, k0 + chunk)):
                    for j in range(j0, j1):
                        acc[j - j0] += np.uint64(a[r, k, l, j]) * np.uint64(b[k, l, j])
                for j in range(j1 - j0):
                    x = acc[j]
                    t = np.int64(x - np.uint64(float(x) * pinv) * pu)  # in [−p, 2p)
                    t += (t >> 63) & pi
                    t -= pi
                    t += (t >> 63) & pi
                    acc[j] = np.uint64(t)
            for j in range(j1 - j0):
                out[r, l, j0 + j] = np.int64(acc[j])


def multiply_accumulate(a: np.ndarray, b: np.ndarray, tables: NttTables) -> np.ndarray:
    """Σ_k a[r, k] ⊙ b[k] mod p for NTT-domain arrays a (R, K, L, n), b (K, L, n).

    Residues must lie in [0, p). `a` may be stored as uint32 (residues < 2^31) to halve
    memory; no (R, K, L, n) temporary is created. Returns (R, L, n) int64.
    """
    L, n = len(tables.primes), tables.n
    if a.ndim != 4 or a.shape[2:] != (L, n) or b.shape != a.shape[1:]:
        raise ValueError("shapes must be (R, K, L, n) and (K, L, n)")
    p_max = max(tables.primes)
    chunk = ((1 << 64) - p_max) // ((p_max - 1) ** 2)  # 16 for 30-bit primes, 4 for 31-bit
    out = np.empty((a.shape[0], L, n), dtype=np.int64)
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b, dtype=np.uint32)
    p = tables.p.astype(np.int64)
    chunk = max(1, chunk)
    run_split(lambda lo, hi: _mac_kernel(a, b, out, p, chunk, lo, hi), n,
              minimum=max(64, _rows_per_thread(a.shape[0] * a.shape[1] * L)))
    return out
