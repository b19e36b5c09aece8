"""Arithmetic in R_q = Z_q[X]/(X^N + 1) on RNS arrays of shape (..., L, N), int64.

Coefficient-domain arrays hold residues in [0, p_i). Functions named `*_ntt`
take and return NTT-domain arrays; they exist only when every p_i ≡ 1 (mod 2N)
(the auxiliary product moduli); the BFV modulus of proof v3 is not NTT-friendly and
multiplies through zkflpq.ring.exact. Integer (non-modular) helpers such as
`mul_sparse_ternary` on int64 arrays of shape (..., N) serve the
prover/verifier, which work over Z for short vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numba as nb
import numpy as np

from .ntt import NttTables, ntt_forward, ntt_inverse, pointwise_mul
from .rns import RnsBasis
from .threads import run_split

__all__ = ["RingContext", "automorphism_int", "mul_sparse_ternary_int", "sigma_int"]


def _automorphism_map(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    if k % 2 == 0:
        raise ValueError("automorphism exponent must be odd")
    i = np.arange(n)
    e = (i * k) % (2 * n)
    dest = np.where(e < n, e, e - n)
    sign = np.where(e < n, 1, -1).astype(np.int64)
    return dest, sign


def automorphism_int(a: np.ndarray, k: int) -> np.ndarray:
    """X ↦ X^k on integer polynomials (..., N) (no reduction)."""
    a = np.asarray(a, dtype=np.int64)
    dest, sign = _automorphism_map(a.shape[-1], k)
    out = np.empty_like(a)
    out[..., dest] = a * sign
    return out


def sigma_int(a: np.ndarray) -> np.ndarray:
    """σ: X ↦ X^{-1} on integer polynomials, so ct(σ(a)·b) = <a, b>.

    σ(X^i) = X^{2N−i} = −X^{N−i}: keep a_0, reverse and negate the rest (a slice,
    much cheaper than the general automorphism's scatter)."""
    a = np.asarray(a, dtype=np.int64)
    out = np.empty_like(a)
    out[..., 0] = a[..., 0]
    np.negative(a[..., :0:-1], out=out[..., 1:])
    return out


@nb.njit(cache=True, nogil=True)
def _sparse_ternary_int(a, pos, sgn, out):
    # out[r] = Σ_j sgn_j · X^{pos_j} · a[r] in Z[X]/(X^n + 1)
    R, n = a.shape
    for r in range(R):
        for j in range(pos.shape[0]):
            k = pos[j]
            s = sgn[j]
            for i in range(n - k):
                out[r, i + k] += s * a[r, i]
            for i in range(n - k, n):
                out[r, i + k - n] -= s * a[r, i]


def mul_sparse_ternary_int(a: np.ndarray, positions: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """c·a over Z[X]/(X^N+1) for c = Σ signs_j X^{positions_j}; a is (..., N) int64."""
    a = np.ascontiguousarray(a, dtype=np.int64)
    shape = a.shape
    flat = a.reshape(-1, shape[-1])
    out = np.zeros_like(flat)
    pos, sgn = np.asarray(positions, np.int64), np.asarray(signs, np.int64)
    run_split(lambda lo, hi: _sparse_ternary_int(flat[lo:hi], pos, sgn, out[lo:hi]),
              flat.shape[0], minimum=max(1, (1 << 12) // max(1, pos.shape[0])))
    return out.reshape(shape)


def _same_layout(a: np.ndarray, b: np.ndarray, ring: RingContext) -> bool:
    """Both (..., L, N) C-contiguous int64 arrays of one shape (no broadcasting)."""
    return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
            and a.ndim >= 2 and a.shape[-2:] == (len(ring.primes), ring.n)
            and a.dtype == np.int64 and b.dtype == np.int64
            and a.flags.c_contiguous and b.flags.c_contiguous)


@nb.njit(cache=True)
def _add_mod_kernel(a, b, p, out):
    # (..., L, N) flattened to rows: row r holds residues mod p[r % L]; out = a + b mod p
    L = p.shape[0]
    for r in range(a.shape[0]):
        pr = p[r % L]
        for j in range(a.shape[1]):
            s = a[r, j] + b[r, j] - pr
            out[r, j] = s + ((s >> 63) & pr)


@nb.njit(cache=True)
def _sub_mod_kernel(a, b, p, out):
    L = p.shape[0]
    for r in range(a.shape[0]):
        pr = p[r % L]
        for j in range(a.shape[1]):
            s = a[r, j] - b[r, j]
            out[r, j] = s + ((s >> 63) & pr)


@dataclass(frozen=True)
class RingContext:
    """R_q for one degree N and one RNS basis, with cached NTT tables."""

    n: int
    primes: tuple[int, ...]
    basis: RnsBasis = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1):
            raise ValueError("N must be a power of two")
        if any(p < 3 or p >= 1 << 31 or p % 2 == 0 for p in self.primes):
            raise ValueError("primes must be odd and below 2^31")
        object.__setattr__(self, "basis", RnsBasis(self.primes))

    @property
    def ntt_friendly(self) -> bool:
        """Every prime ≡ 1 (mod 2N): the length-N NTT exists (`ntt`, `mul_ntt`, `mul`)."""
        return all((p - 1) % (2 * self.n) == 0 for p in self.primes)

    @cached_property
    def tables(self) -> NttTables:
        if not self.ntt_friendly:
            raise ValueError("no length-N NTT modulo these primes (not 1 mod 2N): multiply "
                             "through zkflpq.ring.exact instead")
        return NttTables.build(self.n, self.primes)

    @property
    def q(self) -> int:
        return self.basis.q

    @property
    def p(self) -> np.ndarray:
        """Primes as a broadcastable (L, 1) column."""
        return self.basis.p[:, None]

    # -- conversions -------------------------------------------------------------
    def from_int(self, a: np.ndarray) -> np.ndarray:
        """Signed integer polynomials (..., N) → RNS residues (..., L, N)."""
        return self.basis.reduce(a)

    def constant(self, value: int) -> np.ndarray:
        """The constant polynomial `value` (any Python int) as (L, N)."""
        out = np.zeros((len(self.primes), self.n), dtype=np.int64)
        out[:, 0] = self.basis.reduce_int(value)
        return out

    def lift(self, a: np.ndarray) -> np.ndarray:
        """Exact centred lift (object array of Python ints)."""
        return self.basis.lift_centered(a)

    # -- ring operations --------------------------------------------------------
    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if _same_layout(a, b, self):  # common case (ciphertext sums): one fused pass
            out = np.empty_like(a)
            _add_mod_kernel(a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1]),
                            self.basis.p, out.reshape(-1, a.shape[-1]))
            return out
        s = a + b - self.p
        s += (s >> 63) & self.p  # branch-free: add p back where the result went negative
        return s

    def sub(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if _same_layout(a, b, self):
            out = np.empty_like(a)
            _sub_mod_kernel(a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1]),
                            self.basis.p, out.reshape(-1, a.shape[-1]))
            return out
        s = a - b
        s += (s >> 63) & self.p
        return s

    def neg(self, a: np.ndarray) -> np.ndarray:
        return np.where(a == 0, 0, self.p - a)

    def scalar_mul(self, a: np.ndarray, k: int) -> np.ndarray:
        """a·k for any Python integer k (reduced per prime, so k may exceed 2^63)."""
        ks = self.basis.reduce_int(k)[:, None]
        return (a * ks) % self.p  # a, ks < 2^31: exact in int64

    def ntt(self, a: np.ndarray) -> np.ndarray:
        return ntt_forward(a, self.tables)

    def intt(self, a: np.ndarray) -> np.ndarray:
        return ntt_inverse(a, self.tables)

    def mul_ntt(self, a_hat: np.ndarray, b_hat: np.ndarray) -> np.ndarray:
        return pointwise_mul(a_hat, b_hat, self.tables)

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Negacyclic product of coefficient-domain arrays (broadcasting)."""
        return self.intt(self.mul_ntt(self.ntt(a), self.ntt(b)))

    def automorphism(self, a: np.ndarray, k: int) -> np.ndarray:
        dest, sign = _automorphism_map(self.n, k)
        out = np.empty_like(a)
        moved = np.where(sign < 0, np.where(a == 0, 0, self.p - a), a)
        out[..., dest] = moved
        return out

    @staticmethod
    def sigma_ntt(a_hat: np.ndarray) -> np.ndarray:
        """σ in the NTT domain: slot i holds a(ψ^(2·brv(i)+1)) and σ(a)(x) = a(x⁻¹) puts
        the slot of exponent 2N − (2·brv(i)+1) = 2·brv(N−1−i)+1 there, so NTT(σ(a)) is
        NTT(a) reversed: no transform needed."""
        return np.ascontiguousarray(a_hat[..., ::-1])

    def sigma(self, a: np.ndarray) -> np.ndarray:
        """σ: X ↦ X^{-1} (coefficient domain)."""
        out = np.empty_like(a)
        out[..., 0] = a[..., 0]
        tail = a[..., :0:-1]
        out[..., 1:] = np.where(tail == 0, 0, self.p - tail)
        return out

    def mul_sparse_ternary(self, a: np.ndarray, positions: np.ndarray,
                           signs: np.ndarray) -> np.ndarray:
        """c·a in R_q for a sparse ternary c, without NTTs (cost ‖c‖_1·N per row)."""
        flat = np.ascontiguousarray(a, dtype=np.int64).reshape(-1, self.n)
        out = np.zeros_like(flat)
        pos, sgn = np.asarray(positions, np.int64), np.asarray(signs, np.int64)
        run_split(lambda lo, hi: _sparse_ternary_int(flat[lo:hi], pos, sgn, out[lo:hi]),
                  flat.shape[0], minimum=max(1, (1 << 12) // max(1, pos.shape[0])))
        return out.reshape(a.shape) % self.p

    def ct(self, a: np.ndarray) -> np.ndarray:
        """Constant coefficients (..., L)."""
        return a[..., 0]

    def centered_small(self, a: np.ndarray, bound: int = 1 << 62) -> np.ndarray:
        """Lift residues of a polynomial with |coeff| < bound to int64 (..., N)."""
        return self.basis.lift_small(a, bound)
