"""Negacyclic number-theoretic transform over Z_p[X]/(X^N + 1), p < 2^31.

Forward: Cooley–Tukey, natural order in, bit-reversed order out; inverse:
Gentleman–Sande, bit-reversed in, natural out (Longa–Naehrig 2016 layout).
Twiddles use Shoup's precomputed quotients with β = 2^32, which is exact for
operands below 2^32; values stay lazily in [0, 2p) between layers, so p < 2^31.
Pointwise products in the NTT domain are order-independent, so the bit-reversed
order never leaks out of this module except through `forward`'s output layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba as nb
import numpy as np

from .primes import primitive_2n_root

__all__ = ["NttTables", "ntt_forward", "ntt_inverse", "pointwise_mul"]

_U32 = np.uint64(32)


def _bit_reverse(i: int, bits: int) -> int:
    return int(format(i, f"0{bits}b")[::-1], 2) if bits else 0


@dataclass(frozen=True)
class NttTables:
    """Twiddle tables for one ring degree n and several primes (one row each)."""

    n: int
    primes: tuple[int, ...]
    psi: np.ndarray = field(repr=False)  # (L, n) ψ^brv(i), uint64
    psi_shoup: np.ndarray = field(repr=False)
    psi_inv: np.ndarray = field(repr=False)  # (L, n) ψ^-brv(i)
    psi_inv_shoup: np.ndarray = field(repr=False)
    n_inv: np.ndarray = field(repr=False)  # (L,) n^-1 mod p
    n_inv_shoup: np.ndarray = field(repr=False)
    p: np.ndarray = field(repr=False)  # (L,) uint64

    @classmethod
    def build(cls, n: int, primes: tuple[int, ...]) -> NttTables:
        bits = n.bit_length() - 1
        L = len(primes)
        psi = np.zeros((L, n), np.uint64)
        psi_inv = np.zeros((L, n), np.uint64)
        psi_s = np.zeros((L, n), np.uint64)
        psi_inv_s = np.zeros((L, n), np.uint64)
        n_inv = np.zeros(L, np.uint64)
        n_inv_s = np.zeros(L, np.uint64)
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
                   np.array(primes, dtype=np.uint64))


@nb.njit(cache=True, inline="always")
def _shoup(a, w, ws, p):
    # a < 2^32, w < p: result ≡ a·w (mod p), in [0, 2p).
    q = (a * ws) >> _U32
    return a * w - q * p


@nb.njit(cache=True)
def _forward_kernel(a, psi, psi_s, p):
    # a: (B, L, n) uint64 in [0, p); in-place, output in [0, p).
    B, L, n = a.shape
    two = np.uint64(2)
    for b in range(B):
        for l in range(L):
            pl = p[l]
            p2 = two * pl
            x = a[b, l]
            t = n
            m = 1
            while m < n:
                t >>= 1
                for i in range(m):
                    j1 = 2 * i * t
                    w = psi[l, m + i]
                    ws = psi_s[l, m + i]
                    for j in range(j1, j1 + t):
                        u = x[j]
                        if u >= p2:
                            u -= p2
                        y = x[j + t]
                        if y >= p2:  # Shoup needs an input < 2^32: 2p is, 4p may not be
                            y -= p2
                        v = _shoup(y, w, ws, pl)
                        x[j] = u + v
                        x[j + t] = u + p2 - v
                m <<= 1
            for j in range(n):
                u = x[j]
                if u >= p2:
                    u -= p2
                if u >= pl:
                    u -= pl
                x[j] = u


@nb.njit(cache=True)
def _inverse_kernel(a, psi_inv, psi_inv_s, n_inv, n_inv_s, p):
    B, L, n = a.shape
    two = np.uint64(2)
    for b in range(B):
        for l in range(L):
            pl = p[l]
            p2 = two * pl
            x = a[b, l]
            t = 1
            m = n
            while m > 1:
                h = m >> 1
                j1 = 0
                for i in range(h):
                    w = psi_inv[l, h + i]
                    ws = psi_inv_s[l, h + i]
                    for j in range(j1, j1 + t):
                        u = x[j]
                        v = x[j + t]
                        s = u + v
                        if s >= p2:
                            s -= p2
                        x[j] = s
                        d = u + p2 - v
                        if d >= p2:  # keep the Shoup input below 2p < 2^32
                            d -= p2
                        x[j + t] = _shoup(d, w, ws, pl)
                    j1 += 2 * t
                t <<= 1
                m = h
            ni = n_inv[l]
            nis = n_inv_s[l]
            for j in range(n):
                u = _shoup(x[j], ni, nis, pl)
                if u >= pl:
                    u -= pl
                x[j] = u


@nb.njit(cache=True)
def _pointwise_kernel(a, b, out, p):
    B, L, n = a.shape
    for k in range(B):
        for l in range(L):
            pl = p[l]
            pinv = 1.0 / float(pl)
            for j in range(n):
                x = a[k, l, j]
                y = b[k, l, j]
                q = np.int64(float(x) * float(y) * pinv)
                r = x * y - q * pl
                if r < 0:
                    r += pl
                elif r >= pl:
                    r -= pl
                out[k, l, j] = r


def _as_batch(a: np.ndarray, L: int, n: int) -> np.ndarray:
    if a.shape[-2:] != (L, n):
        raise ValueError(f"expected trailing shape ({L}, {n}), got {a.shape}")
    return a.reshape(-1, L, n)


def ntt_forward(a: np.ndarray, tables: NttTables) -> np.ndarray:
    """NTT of residues `a` (..., L, n) int64 in [0, p); returns a new array."""
    out = np.array(a, dtype=np.int64, copy=True, order="C")
    _forward_kernel(_as_batch(out, len(tables.primes), tables.n).view(np.uint64),
                    tables.psi, tables.psi_shoup, tables.p)
    return out


def ntt_inverse(a: np.ndarray, tables: NttTables) -> np.ndarray:
    """Inverse of `ntt_forward`; returns a new array in [0, p)."""
    out = np.array(a, dtype=np.int64, copy=True, order="C")
    _inverse_kernel(_as_batch(out, len(tables.primes), tables.n).view(np.uint64),
                    tables.psi_inv, tables.psi_inv_shoup, tables.n_inv, tables.n_inv_shoup,
                    tables.p)
    return out


def pointwise_mul(a: np.ndarray, b: np.ndarray, tables: NttTables) -> np.ndarray:
    """a ⊙ b mod p per row; shapes (..., L, n) broadcast against each other."""
    a, b = np.broadcast_arrays(a, b)
    shape = a.shape
    L, n = len(tables.primes), tables.n
    a = np.ascontiguousarray(a, dtype=np.int64).reshape(-1, L, n)
    b = np.ascontiguousarray(b, dtype=np.int64).reshape(-1, L, n)
    out = np.empty_like(a)
    _pointwise_kernel(a, b, out, tables.p.view(np.int64))
    return out.reshape(shape)
