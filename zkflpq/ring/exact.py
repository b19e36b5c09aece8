"""Exact products in Z[X]/(X^N + 1) through NTTs modulo auxiliary primes (TCHES 2021,
Chung–Hwang–Kannwischer–Seiler–Shih–Yang, "NTT multiplication for NTT-unfriendly rings").

The BFV modulus q = p_1···p_L of proof v3 has primes p_i ≡ 5 (mod 8), for which X^N + 1
has only two factors: there is no length-N NTT mod p_i. A product a·b with a uniform mod q
and b short is instead computed over the integers: a is lifted to its centred
representative (|a| ≤ q/2), both factors are transformed modulo M auxiliary NTT-friendly
primes P_j ≡ 1 (mod 2N) with P = Π P_j, multiplied (and summed) pointwise, transformed
back, and the integer result X is recovered by CRT — exactly, provided every coefficient
of X has |X| < P/4 (the `capacity`; the factor 1/4 leaves room for the float estimate of
the CRT quotient) — and then reduced mod each p_i. Callers pass the largest coefficient
their product can reach; `proofs/params_check.py` checks every such bound of the proof.

Base conversions (RNS of q → RNS of P, and back) use the float-estimated quotient of the
CRT sum (Halevi–Polyakov–Shoup 2019 style), with int64 arithmetic only; their naive twins
are big-integer CRT in tests/ring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numba as nb
import numpy as np

from .ntt import mulmod, multiply_accumulate, pointwise_mul
from .poly import RingContext
from .primes import ntt_primes
from .rns import RnsBasis
from .threads import run_split

__all__ = ["ExactProducts", "exact_products"]

AUX_PRIME_BITS = 31


@nb.njit(cache=True, nogil=True)
def _convert_kernel(x, src_p, src_qsi, src_inv, dst_p, dst_c, dst_m, dst_inv, lazy, out):
    # Fast base conversion with a rounded quotient: x (R, A, n) residues mod the source
    # primes of an integer X; out (R, B, n) residues mod the destination primes of
    #     X' = Σ_a y_a·(Q/s_a) − v·Q,  y_a = x_a·(Q/s_a)^-1 mod s_a,  v = round(Σ_a y_a/s_a),
    # with dst_c[b, a] = (Q/s_a) mod d_b and dst_m[b] = Q mod d_b. X' ≡ X (mod Q) and
    # |X'| ≤ Q/2 + Q·2^-40 (float error of v). Loops run over coefficients innermost so
    # LLVM vectorises them; every product is reduced before summing (sums of ≤ 16 terms).
    R, A, n = x.shape
    B = dst_p.shape[0]
    y = np.empty((A, n), dtype=np.int64)
    v = np.empty(n, dtype=np.int64)
    f = np.empty(n, dtype=np.float64)
    for r in range(R):
        f[:] = 0.5
        for a in range(A):
            pa, ca, ia = src_p[a], src_qsi[a], src_inv[a]
            for c in range(n):
                ya = mulmod(x[r, a, c], ca, pa, ia)
                y[a, c] = ya
                f[c] += float(ya) * ia
        for c in range(n):
            v[c] = np.int64(math.floor(f[c]))
        for b in range(B):
            pb, ib, mb = dst_p[b], dst_inv[b], dst_m[b]
            if lazy:  # (A + 1) raw products stay below 2^62: one reduction per coefficient
                for c in range(n):
                    acc = pb * pb - v[c] * mb
                    for a in range(A):
                        acc += y[a, c] * dst_c[b, a]
                    out[r, b, c] = mulmod(acc, 1, pb, ib)
            else:
                for c in range(n):
                    acc = pb * (A + 1) - mulmod(v[c], mb, pb, ib)
                    for a in range(A):
                        acc += mulmod(y[a, c], dst_c[b, a], pb, ib)
                    out[r, b, c] = mulmod(acc, 1, pb, ib)


@nb.njit(cache=True, nogil=True)
def _crt_to_int_kernel(x, aux_p, aux_psi, aux_inv, pstar_lo, P_lo, out):
    # As above, for |X| < 2^62: the sum is evaluated modulo 2^64 (uint64 wrap-around), where
    # it equals X exactly as a two's-complement int64.
    R, M, n = x.shape
    for r in range(R):
        for c in range(n):
            f = 0.0
            acc = np.uint64(0)
            for j in range(M):
                yj = mulmod(x[r, j, c], aux_psi[j], aux_p[j], aux_inv[j])
                f += float(yj) * aux_inv[j]
                acc += np.uint64(yj) * pstar_lo[j]
            w = np.uint64(np.int64(math.floor(f + 0.5)))
            acc -= w * P_lo
            out[r, c] = np.int64(acc)


def _lazy(src: tuple[int, ...], dst: tuple[int, ...]) -> bool:
    """Whether a conversion may sum its raw products unreduced: y_a < s_a and constants
    < d_b, (A + 1) terms, plus the d_b² offset, all below 2^62."""
    return (len(src) + 2) * max(src) * max(dst) < 1 << 62


@dataclass(frozen=True)
class ExactProducts:
    """Integer negacyclic products of degree-N polynomials through M auxiliary NTT primes.

    Arrays "in the product domain" have shape (..., M, N): NTT residues mod each P_j of an
    integer polynomial. Sums and products there are exact over Z as long as every
    coefficient of the represented integer stays below `capacity` in absolute value.
    """

    n: int
    aux_primes: tuple[int, ...]
    aux: RingContext = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "aux", RingContext(self.n, self.aux_primes))

    @property
    def modulus(self) -> int:
        return math.prod(self.aux_primes)

    @property
    def capacity(self) -> int:
        """Largest |coefficient| (exclusive) a product-domain array may represent: P/4."""
        return self.modulus // 4

    # -- into the product domain ---------------------------------------------------------
    def from_int(self, a: np.ndarray) -> np.ndarray:
        """Signed integer polynomials (..., N), |a| < 2^52 → product domain (..., M, N)."""
        return self.aux.ntt(self.aux.from_int(a))

    def from_residues(self, a: np.ndarray, basis: RnsBasis) -> np.ndarray:
        """Residues mod q (..., L, N) → the centred lift (|X| ≤ q/2·(1 + 2^-39)) in the
        product domain (..., M, N)."""
        a = np.ascontiguousarray(a, dtype=np.int64)
        L, n = basis.size, self.n
        if a.shape[-2:] != (L, n):
            raise ValueError(f"expected trailing shape ({L}, {n}), got {a.shape}")
        src = _BasisConstants.of(basis)
        dst = self._lift_constants(basis)
        flat = a.reshape(-1, L, n)
        out = np.empty((flat.shape[0], len(self.aux_primes), n), dtype=np.int64)
        lazy = _lazy(basis.primes, self.aux_primes)
        run_split(lambda lo, hi: _convert_kernel(flat[lo:hi], src.p, src.qsi, src.inv, dst[0],
                                                 dst[1], dst[2], dst[3], lazy, out[lo:hi]),
                  flat.shape[0], minimum=max(1, (1 << 15) // n))
        return self.aux.ntt(out.reshape(a.shape[:-2] + out.shape[1:]))

    # -- arithmetic in the product domain ------------------------------------------------
    def mul(self, a_hat: np.ndarray, b_hat: np.ndarray) -> np.ndarray:
        return pointwise_mul(a_hat, b_hat, self.aux.tables)

    def multiply_accumulate(self, a_hat: np.ndarray, b_hat: np.ndarray) -> np.ndarray:
        """Σ_k a[r, k]·b[k] for a (R, K, M, N), b (K, M, N): (R, M, N)."""
        return multiply_accumulate(a_hat, b_hat, self.aux.tables)

    def add(self, a_hat: np.ndarray, b_hat: np.ndarray) -> np.ndarray:
        return self.aux.add(a_hat, b_hat)

    def sub(self, a_hat: np.ndarray, b_hat: np.ndarray) -> np.ndarray:
        return self.aux.sub(a_hat, b_hat)

    # -- out of the product domain -------------------------------------------------------
    def to_residues(self, a_hat: np.ndarray, basis: RnsBasis) -> np.ndarray:
        """The integer polynomial (|X| < capacity) reduced mod q: (..., L, N)."""
        x = np.ascontiguousarray(self.aux.intt(a_hat))
        M, n = len(self.aux_primes), self.n
        flat = x.reshape(-1, M, n)
        aux = self._aux_constants
        dst = self._reduce_constants(basis)
        out = np.empty((flat.shape[0], basis.size, n), dtype=np.int64)
        # Exact here, not just congruent: |X| < P/4 keeps Σ y_j/P_j within 1/4 + 2^-48 of
        # the integer v, so v is the true CRT quotient and X' = X.
        lazy = _lazy(self.aux_primes, basis.primes)
        run_split(lambda lo, hi: _convert_kernel(flat[lo:hi], aux.p, aux.qsi, aux.inv, dst[0],
                                                 dst[1], dst[2], dst[3], lazy, out[lo:hi]),
                  flat.shape[0], minimum=max(1, (1 << 15) // n))
        return out.reshape(x.shape[:-2] + (basis.size, n))

    def to_int(self, a_hat: np.ndarray) -> np.ndarray:
        """The integer polynomial itself, int64 (..., N); requires |X| < min(2^62, capacity)."""
        x = np.ascontiguousarray(self.aux.intt(a_hat))
        M, n = len(self.aux_primes), self.n
        flat = x.reshape(-1, M, n)
        aux = self._aux_constants
        out = np.empty((flat.shape[0], n), dtype=np.int64)
        _crt_to_int_kernel(flat, aux.p, aux.qsi, aux.inv, self._int_constants[0],
                           self._int_constants[1], out)
        return out.reshape(x.shape[:-2] + (n,))

    # -- constants -------------------------------------------------------------------------
    @cached_property
    def _aux_constants(self) -> _BasisConstants:
        return _BasisConstants.of(self.aux.basis)

    @cached_property
    def _int_constants(self) -> tuple[np.ndarray, np.uint64]:
        b = self.aux.basis
        lo = np.array([qs % (1 << 64) for qs in b.q_star], dtype=np.uint64)
        return lo, np.uint64(b.q % (1 << 64))

    def _lift_constants(self, basis: RnsBasis) -> tuple[np.ndarray, ...]:
        key = ("lift", basis.primes)
        c = self._cache.get(key)
        if c is None:
            dst = self.aux_primes
            c = (np.array(dst, dtype=np.int64),
                 np.array([[qs % P for qs in basis.q_star] for P in dst], dtype=np.int64),
                 np.array([basis.q % P for P in dst], dtype=np.int64),
                 np.array([1.0 / P for P in dst], dtype=np.float64))
            self._cache[key] = c
        return c

    def _reduce_constants(self, basis: RnsBasis) -> tuple[np.ndarray, ...]:
        key = ("reduce", basis.primes)
        c = self._cache.get(key)
        if c is None:
            src = self.aux.basis
            c = (np.array(basis.primes, dtype=np.int64),
                 np.array([[Ps % p for Ps in src.q_star] for p in basis.primes], dtype=np.int64),
                 np.array([src.q % p for p in basis.primes], dtype=np.int64),
                 np.array([1.0 / p for p in basis.primes], dtype=np.float64))
            self._cache[key] = c
        return c

    @cached_property
    def _cache(self) -> dict[tuple, tuple[np.ndarray, ...]]:
        return {}


@dataclass(frozen=True)
class _BasisConstants:
    p: np.ndarray  # primes
    qsi: np.ndarray  # (q/p_i)^-1 mod p_i
    inv: np.ndarray  # 1/p_i as float64

    @classmethod
    def of(cls, basis: RnsBasis) -> _BasisConstants:
        c = _BASIS_CONSTANTS.get(basis.primes)
        if c is None:
            c = cls(np.array(basis.primes, dtype=np.int64),
                    np.array(basis.q_star_inv, dtype=np.int64),
                    np.array([1.0 / p for p in basis.primes], dtype=np.float64))
            _BASIS_CONSTANTS[basis.primes] = c
        return c


_BASIS_CONSTANTS: dict[tuple[int, ...], _BasisConstants] = {}
_PRODUCTS: dict[tuple[int, int], ExactProducts] = {}


def exact_products(n: int, bound: int) -> ExactProducts:
    """The (cached) ExactProducts of degree n with the fewest 31-bit auxiliary primes whose
    capacity P/4 exceeds `bound`, the largest |coefficient| the caller's products reach."""
    if bound < 1:
        raise ValueError("bound must be positive")
    count = 1
    while math.prod(ntt_primes(n, AUX_PRIME_BITS, count)) // 4 <= bound:
        count += 1
    key = (n, count)
    ep = _PRODUCTS.get(key)
    if ep is None:
        ep = ExactProducts(n, ntt_primes(n, AUX_PRIME_BITS, count))
        _PRODUCTS[key] = ep
    return ep
