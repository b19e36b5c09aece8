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

from .ntt import multiply_accumulate, pointwise_mul
from .poly import RingContext
from .primes import ntt_primes
from .rns import RnsBasis

__all__ = ["ExactProducts", "exact_products"]

AUX_PRIME_BITS = 31


@nb.njit(cache=True)
def _mulmod(a, b, p):
    # a, b in [0, p), p < 2^31: the product is below 2^62, exact in int64.
    return (a * b) % p


@nb.njit(cache=True)
def _lift_convert_kernel(x, src_p, src_qsi, src_inv, dst_p, dst_qstar, dst_q, out):
    # x: (R, L, n) residues mod src primes; out: (R, M, n) residues mod dst primes of the
    # lift X = Σ_i y_i·q_i* − v·q with y_i = x_i·(q_i*)^-1 mod p_i and v = round(Σ y_i/p_i),
    # so X ≡ x (mod q) and |X| ≤ q/2 up to the float error of v (a value next to ±q/2 may
    # come out as the other representative, off by q: |X| ≤ q/2 + 2^-40·q either way).
    R, L, n = x.shape
    M = dst_p.shape[0]
    y = np.empty(L, dtype=np.int64)
    for r in range(R):
        for c in range(n):
            f = 0.0
            for i in range(L):
                yi = _mulmod(x[r, i, c], src_qsi[i], src_p[i])
                y[i] = yi
                f += float(yi) * src_inv[i]
            v = np.int64(math.floor(f + 0.5))
            for j in range(M):
                pj = dst_p[j]
                acc = 0
                for i in range(L):
                    acc = (acc + _mulmod(y[i], dst_qstar[j, i], pj)) % pj
                acc = (acc - _mulmod(v % pj, dst_q[j], pj)) % pj
                out[r, j, c] = acc + pj if acc < 0 else acc


@nb.njit(cache=True)
def _crt_to_residues_kernel(x, aux_p, aux_psi, aux_inv, dst_p, dst_pstar, dst_P, out):
    # x: (R, M, n) residues mod P_j of an integer X with |X| < P/4; out: (R, L, n) X mod p_i.
    # X = Σ_j y_j·P_j* − w·P with w = round(Σ_j y_j/P_j): exact, since Σ_j y_j/P_j = X/P + w
    # lies within 1/4 + 2^-48 of the integer w.
    R, M, n = x.shape
    L = dst_p.shape[0]
    y = np.empty(M, dtype=np.int64)
    for r in range(R):
        for c in range(n):
            f = 0.0
            for j in range(M):
                yj = _mulmod(x[r, j, c], aux_psi[j], aux_p[j])
                y[j] = yj
                f += float(yj) * aux_inv[j]
            w = np.int64(math.floor(f + 0.5))
            for i in range(L):
                pi = dst_p[i]
                acc = 0
                for j in range(M):
                    acc = (acc + _mulmod(y[j], dst_pstar[i, j], pi)) % pi
                acc = (acc - _mulmod(w % pi, dst_P[i], pi)) % pi
                out[r, i, c] = acc + pi if acc < 0 else acc


@nb.njit(cache=True)
def _crt_to_int_kernel(x, aux_p, aux_psi, aux_inv, pstar_lo, P_lo, out):
    # As above, for |X| < 2^62: the sum is evaluated modulo 2^64 (uint64 wrap-around), where
    # it equals X exactly as a two's-complement int64.
    R, M, n = x.shape
    for r in range(R):
        for c in range(n):
            f = 0.0
            acc = np.uint64(0)
            for j in range(M):
                yj = _mulmod(x[r, j, c], aux_psi[j], aux_p[j])
                f += float(yj) * aux_inv[j]
                acc += np.uint64(yj) * pstar_lo[j]
            w = np.uint64(np.int64(math.floor(f + 0.5)))
            acc -= w * P_lo
            out[r, c] = np.int64(acc)


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
        _lift_convert_kernel(flat, src.p, src.qsi, src.inv, dst[0], dst[1], dst[2], out)
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
        _crt_to_residues_kernel(flat, aux.p, aux.qsi, aux.inv, dst[0], dst[1], dst[2], out)
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
                 np.array([basis.q % P for P in dst], dtype=np.int64))
            self._cache[key] = c
        return c

    def _reduce_constants(self, basis: RnsBasis) -> tuple[np.ndarray, ...]:
        key = ("reduce", basis.primes)
        c = self._cache.get(key)
        if c is None:
            src = self.aux.basis
            c = (np.array(basis.primes, dtype=np.int64),
                 np.array([[Ps % p for Ps in src.q_star] for p in basis.primes], dtype=np.int64),
                 np.array([src.q % p for p in basis.primes], dtype=np.int64))
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
