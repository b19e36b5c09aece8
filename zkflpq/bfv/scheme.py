"""BFV (Fan–Vercauteren 2012) with exposed encryption randomness.

pk = (p0, p1) = (−(a·s + e), a);  Enc(m; u, e1, e2) = (p0·u + e1 + Δ·m, p1·u + e2).
The randomness (u, e1, e2) is returned to the caller because the norm proof
(zkflpq.zk) uses the ciphertext as a commitment to (u, e1, e2, m).
A batch of k chunks is one array of shape (k, 2, L, N).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numba as nb
import numpy as np

from ..ring import Csprng, RingContext, centered_binomial, ternary, uniform_mod
from .params import BfvParams

__all__ = [
    "Ciphertexts",
    "EncryptionRandomness",
    "NoiseReport",
    "PublicKey",
    "SecretKey",
    "add",
    "decrypt",
    "decrypt_with_noise",
    "encrypt",
    "encrypt_deterministic",
    "encrypt_with_randomness",
    "check_key_pair",
    "key_error",
    "keygen",
    "ring_of",
    "scalar_mul",
    "sum_ciphertexts",
]

_RINGS: dict[str, RingContext] = {}


def ring_of(params: BfvParams) -> RingContext:
    """The (cached) ring context R_q of a parameter set."""
    ring = _RINGS.get(params.name)
    if ring is None or ring.primes != params.primes:
        ring = RingContext(params.n, params.primes)
        _RINGS[params.name] = ring
    return ring


@dataclass(frozen=True, eq=False)
class SecretKey:
    params: BfvParams
    s: np.ndarray = field(repr=False)  # (N,) ternary int64

    @cached_property
    def s_ntt(self) -> np.ndarray:
        r = ring_of(self.params)
        return r.ntt(r.from_int(self.s))


@dataclass(frozen=True, eq=False)
class PublicKey:
    params: BfvParams
    p0: np.ndarray = field(repr=False)  # (L, N) residues
    p1: np.ndarray = field(repr=False)

    @cached_property
    def p_ntt(self) -> np.ndarray:
        """(2, L, N): NTT forms of p0 and p1."""
        return ring_of(self.params).ntt(np.stack([self.p0, self.p1]))

    @cached_property
    def digest(self) -> bytes:
        """SHA3-256 over the parameter id and the residues (binds proofs to this key)."""
        h = hashlib.sha3_256(b"zkflpq-bfv-pk-v1")
        h.update(self.params.id_bytes)
        h.update(np.ascontiguousarray(self.p0, dtype="<i8").tobytes())
        h.update(np.ascontiguousarray(self.p1, dtype="<i8").tobytes())
        return h.digest()


@dataclass(frozen=True, eq=False)
class Ciphertexts:
    """k BFV ciphertexts: `data[i] = (c0_i, c1_i)`, residues of shape (L, N) each."""

    params: BfvParams
    data: np.ndarray = field(repr=False)  # (k, 2, L, N)

    def __post_init__(self) -> None:
        L, n = len(self.params.primes), self.params.n
        if self.data.ndim != 4 or self.data.shape[1:] != (2, L, n):
            raise ValueError("ciphertext array must have shape (k, 2, L, N)")

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def c0(self) -> np.ndarray:
        return self.data[:, 0]

    @property
    def c1(self) -> np.ndarray:
        return self.data[:, 1]


@dataclass(frozen=True, eq=False)
class EncryptionRandomness:
    """(u, e1, e2), each (k, N) int64: ternary u, centred-binomial e1, e2."""

    u: np.ndarray
    e1: np.ndarray
    e2: np.ndarray


@dataclass(frozen=True)
class NoiseReport:
    """Exact noise of a decryption, measured against a reference plaintext m.

    max_abs_noise: ‖[c0 + c1·s − Δ·m]_q‖_∞ (centred mod q), the usual BFV noise v.
    budget_bits: log2(q/2) − log2‖[t·(c0 + c1·s) − q·m]_{t·q}‖_∞, the invariant-noise
        budget (as in SEAL): decryption returns m exactly iff budget_bits > 0. It is
        ≈ log2(Δ/2) − log2‖v‖_∞ and differs from it only by the (q mod t)·m/t term.

    Without an expected plaintext, m is the decrypted value itself, so the budget only
    says how far each phase lies from a rounding boundary (it is then never negative):
    pass `expected` to decrypt_with_noise to test correctness.
    """

    max_abs_noise: int
    budget_bits: float

    @property
    def decrypts_correctly(self) -> bool:
        return self.budget_bits > 0


def keygen(params: BfvParams, rng: Csprng | None = None) -> tuple[SecretKey, PublicKey]:
    """(s, pk = (−(a·s + e), a)) with ternary s and CBD_η error e, ‖e‖ ≤ error_norm_bound(N).

    The error is resampled in the (< 2^-60 for the default set) case that it exceeds the
    bound, so assumption A-key, on which the aggregate's decryption bound K_max rests
    (proofs/security.md §2.8), holds for every key rather than with high probability.
    """
    rng = rng or Csprng()
    r = ring_of(params)
    s = ternary(rng, (params.n,))
    while True:
        e = centered_binomial(rng, params.error_eta, (params.n,))
        if _within_a_key(params, e):
            break
    a = uniform_mod(rng, params.primes, (params.n,))
    as_ = r.intt(r.mul_ntt(r.ntt(a), r.ntt(r.from_int(s))))
    p0 = r.neg(r.add(as_, r.from_int(e)))
    return SecretKey(params, s), PublicKey(params, p0, a)


def _within_a_key(params: BfvParams, e: np.ndarray) -> bool:
    limit = params.error_norm_bound(params.n)
    return float(np.dot(e, e)) <= limit * limit


def key_error(sk: SecretKey, pk: PublicKey) -> np.ndarray:
    """e = −(p0 + p1·s) (N,), int64; ValueError when it is not even below 2^62 (the public
    key does not belong to this secret key)."""
    if sk.params != pk.params:
        raise ValueError("keys belong to different parameter sets")
    r = ring_of(sk.params)
    e = r.neg(r.add(pk.p0, r.intt(r.mul_ntt(pk.p_ntt[1], sk.s_ntt))))
    try:
        return r.centered_small(e)
    except ValueError:
        raise ValueError("the public key does not belong to this secret key") from None


def check_key_pair(sk: SecretKey, pk: PublicKey) -> None:
    """Raise ValueError unless pk = (−(a·s + e), a) for this s with ‖e‖ within A-key."""
    if not _within_a_key(sk.params, key_error(sk, pk)):
        raise ValueError("public key error exceeds the A-key bound (or the key pair does "
                         "not match)")


def _check_plaintext(params: BfvParams, m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.int64)
    if m.ndim != 2 or m.shape[1] != params.n:
        raise ValueError("plaintext must have shape (k, N)")
    half = params.t // 2
    if m.size and (m.min() <= -half or m.max() > half):
        raise ValueError("plaintext coefficients must lie in (−t/2, t/2]")
    return m


def encrypt_deterministic(pk: PublicKey, m: np.ndarray,
                          randomness: EncryptionRandomness) -> Ciphertexts:
    """Enc(m; u, e1, e2) for given randomness (the proof's relation R1, R2)."""
    params = pk.params
    r = ring_of(params)
    m = _check_plaintext(params, m)
    u_hat = r.ntt(r.from_int(randomness.u))  # (k, L, N)
    pu = r.intt(r.mul_ntt(u_hat[:, None], pk.p_ntt[None]))  # (k, 2, L, N)
    dm = r.scalar_mul(r.from_int(m), params.delta)
    c0 = r.add(r.add(pu[:, 0], r.from_int(randomness.e1)), dm)
    c1 = r.add(pu[:, 1], r.from_int(randomness.e2))
    return Ciphertexts(params, np.stack([c0, c1], axis=1))


def encrypt_with_randomness(pk: PublicKey, m: np.ndarray, rng: Csprng | None = None
                            ) -> tuple[Ciphertexts, EncryptionRandomness]:
    """Encrypt k chunks (k, N) with fresh CSPRNG randomness and return it too."""
    params = pk.params
    rng = rng or Csprng()
    m = _check_plaintext(params, m)
    k = m.shape[0]
    rand = EncryptionRandomness(
        u=ternary(rng, (k, params.n)),
        e1=centered_binomial(rng, params.error_eta, (k, params.n)),
        e2=centered_binomial(rng, params.error_eta, (k, params.n)),
    )
    return encrypt_deterministic(pk, m, rand), rand


def encrypt(pk: PublicKey, m: np.ndarray, rng: Csprng | None = None) -> Ciphertexts:
    return encrypt_with_randomness(pk, m, rng)[0]


def _same_shape(a: Ciphertexts, b: Ciphertexts) -> None:
    if a.params != b.params or a.data.shape != b.data.shape:
        raise ValueError("ciphertexts have different parameters or chunk counts")


def add(a: Ciphertexts, b: Ciphertexts) -> Ciphertexts:
    _same_shape(a, b)
    return Ciphertexts(a.params, ring_of(a.params).add(a.data, b.data))


def sum_ciphertexts(items: Iterable[Ciphertexts]) -> Ciphertexts:
    """Σ of many ciphertext batches, accumulated lazily in int64 (one reduction per 2^32 terms)."""
    it = iter(items)
    try:
        first = next(it)
    except StopIteration:
        raise ValueError("nothing to sum") from None
    acc = first.data.astype(np.int64, copy=True)
    p = ring_of(first.params).p
    pending = 1
    for ct in it:
        _same_shape(first, ct)
        acc += ct.data
        pending += 1
        if pending == 1 << 32:  # residues < 2^31: 2^32 of them stay below 2^63
            acc %= p
            pending = 1
    return Ciphertexts(first.params, acc % p)


def scalar_mul(ct: Ciphertexts, k: int) -> Ciphertexts:
    """Multiply by a (small) integer: decrypts to k·m mod t."""
    return Ciphertexts(ct.params, ring_of(ct.params).scalar_mul(ct.data, k))


def _phase(sk: SecretKey, ct: Ciphertexts) -> np.ndarray:
    r = ring_of(ct.params)
    c1s = r.intt(r.mul_ntt(r.ntt(ct.c1), sk.s_ntt))
    return r.add(ct.c0, c1s)  # (k, L, N)


@nb.njit(cache=True)
def _round_kernel(x, primes, q_star_inv, q_star_inv_shoup, inv_p, t, out, rems, rnd,
                  near_half):
    """round(t·x/q) mod t (centred) per coefficient of x (R, L, N), see _round_t_over_q.

    Also stores the r_i (rems), the float rounding of F that was used (rnd), and flags
    coefficients whose F lies within 2^-36 of a half-integer (near_half), for an exact
    recomputation by the caller.
    """
    R, L, N = x.shape
    mask = t - 1  # t is a power of two ≤ 2^32
    half = t >> 1
    for r in range(R):
        for j in range(N):
            acc = 0
            f = 0.0
            for i in range(L):
                p = primes[i]
                a = x[r, i, j]
                # Shoup: y = a·c mod p with c' = floor(c·2^32/p), a < 2^32
                qq = (np.uint64(a) * np.uint64(q_star_inv_shoup[i])) >> np.uint64(32)
                y = a * q_star_inv[i] - np.int64(qq) * p
                if y >= p:
                    y -= p
                # y·t = w·p + rem; y·t < 2^63, and the float quotient is off by ≤ 1
                w = np.int64(np.float64(y) * (np.float64(t) * inv_p[i]))
                rem = y * t - w * p
                if rem < 0:
                    w -= 1
                    rem += p
                elif rem >= p:
                    w += 1
                    rem -= p
                acc = (acc + w) & mask
                f += np.float64(rem) * inv_p[i]
                rems[i, r, j] = rem
            fl = np.floor(f)
            d = f - fl - 0.5
            near_half[r, j] = -2.0**-36 < d < 2.0**-36
            rounded = np.int64(fl) + (1 if d > 0 else 0)
            rnd[r, j] = rounded
            m = (acc + rounded) & mask
            out[r, j] = m - t if m > half else m


_ROUND_CONSTANTS: dict[BfvParams, tuple[np.ndarray, ...]] = {}


def _round_constants(params: BfvParams) -> tuple[np.ndarray, ...]:
    c = _ROUND_CONSTANTS.get(params)
    if c is None:
        qsi = ring_of(params).basis.q_star_inv
        c = (np.array(params.primes, dtype=np.int64), np.array(qsi, dtype=np.int64),
             np.array([(v << 32) // p for v, p in zip(qsi, params.primes, strict=True)],
                      dtype=np.int64),
             np.array([1.0 / p for p in params.primes], dtype=np.float64))
        _ROUND_CONSTANTS[params] = c
    return c


def _round_t_over_q(params: BfvParams, x: np.ndarray) -> np.ndarray:
    """round(t·x/q) mod t, centred, from residues without a big-integer lift; exact.

    With y_i = x_i·(q/p_i)^-1 mod p_i, t·x/q ≡ Σ_i y_i·t/p_i (mod t). Write
    y_i·t = w_i·p_i + r_i: the integer parts w_i are exact in int64 (y_i·t < 2^63) and
    the fractional part is F = Σ_i r_i/p_i = S/q with S = Σ_i r_i·(q/p_i). F is summed
    in float64 (absolute error < 2^-48); only where F lies within 2^-36 of a
    half-integer (i.e. the noise is within ≈ 2^-36·Δ of ±Δ/2) is it recomputed exactly
    as round(S/q) with Python integers. q is odd, so S/q is never a half-integer and
    the rounding is always well defined: decryption equals the exact BFV formula.
    """
    t = params.t
    L, n = len(params.primes), params.n
    lead = x.shape[:-2]
    xb = np.ascontiguousarray(x, dtype=np.int64).reshape(-1, L, n)
    rows = xb.shape[0]
    out = np.empty((rows, n), dtype=np.int64)
    rems = np.empty((L, rows, n), dtype=np.int64)
    rnd = np.empty((rows, n), dtype=np.int64)
    near_half = np.empty((rows, n), dtype=np.bool_)
    primes, q_star_inv, q_star_inv_shoup, inv_p = _round_constants(params)
    _round_kernel(xb, primes, q_star_inv, q_star_inv_shoup, inv_p, t, out, rems, rnd, near_half)
    if near_half.any():
        q = params.q
        q_star = ring_of(params).basis.q_star
        for r, j in zip(*np.nonzero(near_half), strict=True):
            s = sum(int(rems[i, r, j]) * q_star[i] for i in range(L))
            exact = (2 * s + q) // (2 * q)  # round(S/q); never a tie (q odd)
            m = (int(out[r, j]) - int(rnd[r, j]) + exact) % t
            out[r, j] = m - t if m > t // 2 else m
    return out.reshape(lead + (n,))


def decrypt(sk: SecretKey, ct: Ciphertexts) -> np.ndarray:
    """Plaintext chunks (k, N), centred in (−t/2, t/2]."""
    if sk.params != ct.params:
        raise ValueError("key and ciphertext use different parameter sets")
    return _round_t_over_q(ct.params, _phase(sk, ct))


def decrypt_with_noise(sk: SecretKey, ct: Ciphertexts, expected: np.ndarray | None = None
                       ) -> tuple[np.ndarray, NoiseReport]:
    """Decrypt and report the exact noise (big-integer CRT; slower than `decrypt`).

    `expected` (k, N), if given, is the plaintext the ciphertext should hold; the
    report is then measured against it, so `report.decrypts_correctly` tells whether
    decryption succeeded. Without it the decrypted plaintext is the reference.
    """
    if sk.params != ct.params:
        raise ValueError("key and ciphertext use different parameter sets")
    params = ct.params
    r = ring_of(params)
    x = _phase(sk, ct)
    m = _round_t_over_q(params, x)
    ref = m if expected is None else _check_plaintext(params, expected)
    if ref.shape != m.shape:
        raise ValueError("expected plaintext has the wrong number of chunks")
    noise = r.lift(r.sub(x, r.scalar_mul(r.from_int(ref), params.delta)))
    worst = int(np.max(np.abs(noise))) if noise.size else 0
    # Invariant noise z = t·[x]_q − q·m, centred mod t·q: round(t·x/q) ≡ m (mod t) iff
    # ‖z‖_∞ < q/2.
    q, t = params.q, params.t
    tq = t * q
    z = (r.lift(x) * t - ref.astype(object) * q) % tq
    z = np.where(z > tq // 2, z - tq, z)
    worst_inv = int(np.max(np.abs(z))) if z.size else 0
    budget = math.log2(q / 2) - math.log2(max(worst_inv, 1))
    # float64 cannot resolve the last 2^-52 (relative) next to the boundary: make the
    # sign agree with the exact integer test 2·‖z‖_∞ < q.
    if 2 * worst_inv < q:
        budget = max(budget, math.ulp(0.0))
    else:
        budget = min(budget, 0.0)
    return m, NoiseReport(worst, budget)
