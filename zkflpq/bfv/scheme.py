"""BFV (Fan–Vercauteren 2012) in the multi-message form, with exposed randomness.

Keys: s_1..s_L' ternary, pk = (a, b_1..b_L') with b_j = −(a·s_j + e_j).
A group of up to L' chunks m_1..m_L' shares one (u, e2):
    c1 = a·u + e2,    c0_j = b_j·u + e1_j + Δ·m_j,
and chunk j of a group decrypts with s_j: c0_j + c1·s_j = Δ·m_j + e1_j − e_j·u + s_j·e2.
k chunks form ⌈k/L'⌉ groups; chunk i is component i mod L' of group i div L'.
The randomness (u, e1, e2) is returned to the caller because the norm proof
(zkflpq.zk) uses the ciphertext as a commitment to (u, e1, e2, m). Products
"uniform mod q × ternary" are exact integer products (zkflpq.ring.exact).
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
from ..ring.exact import ExactProducts, exact_products
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
    "products_of",
    "sample_randomness",
    "scalar_mul",
    "sum_ciphertexts",
]

_RINGS: dict[str, RingContext] = {}


def ring_of(params: BfvParams) -> RingContext:
    """The (cached) ring context R_q of a parameter set (coefficient-domain arithmetic)."""
    ring = _RINGS.get(params.name)
    if ring is None or ring.primes != params.primes or ring.n != params.n:
        ring = RingContext(params.n, params.primes)
        _RINGS[params.name] = ring
    return ring


def products_of(params: BfvParams) -> ExactProducts:
    """Exact products "uniform mod q × ternary" (keys, encryption, decryption): every
    coefficient is at most N·(q/2)·(1 + 2^-39) < capacity."""
    return exact_products(params.n, params.n * (params.q // 2 + (params.q >> 39) + 1))


def _mul_uniform_ternary(params: BfvParams, uniform_hat: np.ndarray, short: np.ndarray
                         ) -> np.ndarray:
    ep = products_of(params)
    return ep.to_residues(ep.mul(uniform_hat, ep.from_int(short)), ring_of(params).basis)


@dataclass(frozen=True, eq=False)
class SecretKey:
    params: BfvParams
    s: np.ndarray = field(repr=False)  # (L', N) ternary int64: one secret per component

    def __post_init__(self) -> None:
        if self.s.shape != (self.params.components, self.params.n):
            raise ValueError("secret key must have shape (L', N)")

    @cached_property
    def s_hat(self) -> np.ndarray:
        """The secrets in the product domain (L', M, N)."""
        return products_of(self.params).from_int(self.s)


@dataclass(frozen=True, eq=False)
class PublicKey:
    params: BfvParams
    a: np.ndarray = field(repr=False)  # (L, N) residues, uniform
    b: np.ndarray = field(repr=False)  # (L', L, N) residues: b_j = −(a·s_j + e_j)

    def __post_init__(self) -> None:
        L, n = len(self.params.primes), self.params.n
        if self.a.shape != (L, n) or self.b.shape != (self.params.components, L, n):
            raise ValueError("public key arrays must have shapes (L, N) and (L', L, N)")

    _forms: dict = field(default_factory=dict, init=False, repr=False)

    def product_forms(self, engine: ExactProducts | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(a, b_1..b_L') lifted to (−q/2, q/2] in the product domain of `engine`
        ((M, N) and (L', M, N)); default: the encryption engine `products_of(params)`.
        Cached per engine (the norm proof may need more auxiliary primes)."""
        engine = engine or products_of(self.params)
        got = self._forms.get(engine.aux_primes)
        if got is None:
            basis = ring_of(self.params).basis
            got = (engine.from_residues(self.a, basis), engine.from_residues(self.b, basis))
            self._forms[engine.aux_primes] = got
        return got

    @cached_property
    def digest(self) -> bytes:
        """SHA3-256 over the parameter id and the residues (binds proofs to this key)."""
        h = hashlib.sha3_256(b"zkflpq-bfv-pk-v3")
        h.update(self.params.id_bytes)
        h.update(np.ascontiguousarray(self.a, dtype="<i8").tobytes())
        h.update(np.ascontiguousarray(self.b, dtype="<i8").tobytes())
        return h.digest()


@dataclass(frozen=True, eq=False)
class Ciphertexts:
    """k chunks in ⌈k/L'⌉ groups: `c0[i]` (L, N) for chunk i, `c1[g]` (L, N) for group g."""

    params: BfvParams
    c0: np.ndarray = field(repr=False)  # (k, L, N)
    c1: np.ndarray = field(repr=False)  # (⌈k/L'⌉, L, N)

    def __post_init__(self) -> None:
        L, n = len(self.params.primes), self.params.n
        if self.c0.ndim != 3 or self.c0.shape[1:] != (L, n) or self.c0.shape[0] < 1:
            raise ValueError("c0 must have shape (k, L, N) with k ≥ 1")
        if self.c1.shape != (self.params.groups(self.c0.shape[0]), L, n):
            raise ValueError("c1 must have shape (⌈k/L'⌉, L, N)")

    def __len__(self) -> int:
        return int(self.c0.shape[0])

    @property
    def groups(self) -> int:
        return int(self.c1.shape[0])

    def component_of(self) -> np.ndarray:
        """j(i) = i mod L' for every chunk i (which b_j / s_j it uses)."""
        return np.arange(len(self)) % self.params.components

    def group_of(self) -> np.ndarray:
        """g(i) = i div L' for every chunk i (which c1 / u it shares)."""
        return np.arange(len(self)) // self.params.components


@dataclass(frozen=True, eq=False)
class EncryptionRandomness:
    """u, e2 (⌈k/L'⌉, N) per group and e1 (k, N) per chunk, int64: ternary u,
    centred-binomial e1, e2."""

    u: np.ndarray
    e1: np.ndarray
    e2: np.ndarray


@dataclass(frozen=True)
class NoiseReport:
    """Exact noise of a decryption, measured against a reference plaintext m.

    max_abs_noise: ‖[c0_j + c1·s_j − Δ·m]_q‖_∞ (centred mod q), the usual BFV noise v.
    budget_bits: log2(q/2) − log2‖[t·(c0_j + c1·s_j) − q·m]_{t·q}‖_∞, the invariant-noise
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
    """(s_1..s_L', pk = (a, −(a·s_j + e_j))) with ternary s_j and CBD_η errors e_j,
    each ‖e_j‖ ≤ error_norm_bound(N).

    An error is resampled in the (< 2^-60 for the default set) case that it exceeds the
    bound, so assumption A-key, on which the aggregate's decryption bound K_max rests
    (proofs/security.md), holds for every key rather than with high probability.
    """
    rng = rng or Csprng()
    r = ring_of(params)
    comps = params.components
    s = ternary(rng, (comps, params.n))
    errors = []
    for _ in range(comps):
        while True:
            e = centered_binomial(rng, params.error_eta, (params.n,))
            if _within_a_key(params, e):
                errors.append(e)
                break
    a = uniform_mod(rng, params.primes, (params.n,))
    a_hat = products_of(params).from_residues(a, r.basis)
    as_ = _mul_uniform_ternary(params, a_hat[None], s)  # (L', L, N)
    b = r.neg(r.add(as_, r.from_int(np.stack(errors))))
    return SecretKey(params, s), PublicKey(params, a, b)


def _within_a_key(params: BfvParams, e: np.ndarray) -> bool:
    limit = params.error_norm_bound(params.n)
    return float(np.dot(e, e)) <= limit * limit


def key_error(sk: SecretKey, pk: PublicKey) -> np.ndarray:
    """e_j = −(b_j + a·s_j) (L', N), int64; ValueError when it is not even below 2^62 (the
    public key does not belong to this secret key)."""
    if sk.params != pk.params:
        raise ValueError("keys belong to different parameter sets")
    r = ring_of(sk.params)
    ep = products_of(sk.params)
    as_ = ep.to_residues(ep.mul(pk.product_forms(ep)[0][None], sk.s_hat), r.basis)
    e = r.neg(r.add(pk.b, as_))
    try:
        return r.centered_small(e)
    except ValueError:
        raise ValueError("the public key does not belong to this secret key") from None


def check_key_pair(sk: SecretKey, pk: PublicKey) -> None:
    """Raise ValueError unless every b_j = −(a·s_j + e_j) for this s with ‖e_j‖ within
    A-key."""
    if not all(_within_a_key(sk.params, e) for e in key_error(sk, pk)):
        raise ValueError("public key error exceeds the A-key bound (or the key pair does "
                         "not match)")


def _check_plaintext(params: BfvParams, m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.int64)
    if m.ndim != 2 or m.shape[1] != params.n or m.shape[0] < 1:
        raise ValueError("plaintext must have shape (k, N) with k ≥ 1")
    half = params.t // 2
    if m.size and (m.min() <= -half or m.max() > half):
        raise ValueError("plaintext coefficients must lie in (−t/2, t/2]")
    return m


def encrypt_deterministic(pk: PublicKey, m: np.ndarray,
                          randomness: EncryptionRandomness) -> Ciphertexts:
    """Enc(m; u, e1, e2) for given randomness (the proof's relations R1, R2)."""
    params = pk.params
    r = ring_of(params)
    m = _check_plaintext(params, m)
    k, g = m.shape[0], params.groups(m.shape[0])
    u, e1, e2 = (np.asarray(x, dtype=np.int64) for x in
                 (randomness.u, randomness.e1, randomness.e2))
    if u.shape != (g, params.n) or e2.shape != (g, params.n) or e1.shape != m.shape:
        raise ValueError("randomness shapes do not match the plaintext's chunk groups")
    if u.size and np.abs(u).max() > 1:
        # The product engine is sized for "uniform × ternary": a larger u would overflow
        # its capacity and give a wrong ciphertext instead of an error.
        raise ValueError("u must be ternary")
    if max(np.abs(e1).max(initial=0), np.abs(e2).max(initial=0)) >= 1 << 52:
        raise ValueError("errors must stay below 2^52 in magnitude")
    ep = products_of(params)
    u_hat = ep.from_int(u)  # (g, M, N)
    comp = np.arange(k) % params.components
    grp = np.arange(k) // params.components
    a_hat, b_hat = pk.product_forms(ep)
    bu = ep.to_residues(ep.mul(b_hat[comp], u_hat[grp]), r.basis)  # (k, L, N)
    au = ep.to_residues(ep.mul(a_hat[None], u_hat), r.basis)  # (g, L, N)
    dm = r.scalar_mul(r.from_int(m), params.delta)
    c0 = r.add(r.add(bu, r.from_int(e1)), dm)
    c1 = r.add(au, r.from_int(e2))
    return Ciphertexts(params, c0, c1)


def sample_randomness(params: BfvParams, k: int, rng: Csprng | None = None
                      ) -> EncryptionRandomness:
    """Fresh CSPRNG randomness for k chunks."""
    rng = rng or Csprng()
    g = params.groups(k)
    return EncryptionRandomness(
        u=ternary(rng, (g, params.n)),
        e1=centered_binomial(rng, params.error_eta, (k, params.n)),
        e2=centered_binomial(rng, params.error_eta, (g, params.n)),
    )


def encrypt_with_randomness(pk: PublicKey, m: np.ndarray, rng: Csprng | None = None
                            ) -> tuple[Ciphertexts, EncryptionRandomness]:
    """Encrypt k chunks (k, N) with fresh CSPRNG randomness and return it too."""
    m = _check_plaintext(pk.params, m)
    rand = sample_randomness(pk.params, m.shape[0], rng)
    return encrypt_deterministic(pk, m, rand), rand


def encrypt(pk: PublicKey, m: np.ndarray, rng: Csprng | None = None) -> Ciphertexts:
    return encrypt_with_randomness(pk, m, rng)[0]


def _same_shape(a: Ciphertexts, b: Ciphertexts) -> None:
    if a.params != b.params or a.c0.shape != b.c0.shape:
        raise ValueError("ciphertexts have different parameters or chunk counts")


def add(a: Ciphertexts, b: Ciphertexts) -> Ciphertexts:
    """Component-wise: c0 per chunk, c1 per group (the groups line up: same k, same L')."""
    _same_shape(a, b)
    r = ring_of(a.params)
    return Ciphertexts(a.params, r.add(a.c0, b.c0), r.add(a.c1, b.c1))


def sum_ciphertexts(items: Iterable[Ciphertexts]) -> Ciphertexts:
    """Σ of many ciphertext batches, accumulated lazily in int64 (one reduction per 2^32 terms)."""
    it = iter(items)
    try:
        first = next(it)
    except StopIteration:
        raise ValueError("nothing to sum") from None
    acc0 = first.c0.astype(np.int64, copy=True)
    acc1 = first.c1.astype(np.int64, copy=True)
    p = ring_of(first.params).p
    pending = 1
    for ct in it:
        _same_shape(first, ct)
        acc0 += ct.c0
        acc1 += ct.c1
        pending += 1
        if pending == 1 << 32:  # residues < 2^31: 2^32 of them stay below 2^63
            acc0 %= p
            acc1 %= p
            pending = 1
    return Ciphertexts(first.params, acc0 % p, acc1 % p)


def scalar_mul(ct: Ciphertexts, k: int) -> Ciphertexts:
    """Multiply by a (small) integer: decrypts to k·m mod t."""
    r = ring_of(ct.params)
    return Ciphertexts(ct.params, r.scalar_mul(ct.c0, k), r.scalar_mul(ct.c1, k))


def _phase(sk: SecretKey, ct: Ciphertexts) -> np.ndarray:
    """c0_i + c1_{g(i)}·s_{j(i)} for every chunk (k, L, N)."""
    params = ct.params
    r = ring_of(params)
    ep = products_of(params)
    c1_hat = ep.from_residues(ct.c1, r.basis)  # (g, M, N)
    c1s = ep.to_residues(ep.mul(c1_hat[ct.group_of()], sk.s_hat[ct.component_of()]), r.basis)
    return r.add(ct.c0, c1s)


@nb.njit(cache=True)
def _round_kernel(x, primes, q_star_inv, q_star_inv_shoup, inv_p, t, out, rems, rnd,
                  near_half):
    """round(t·x/q) mod t (centred) per coefficient of x (R, L, N), see _round_t_over_q.

    Also stores the r_i (rems), the float rounding of F that was used (rnd), and flags
    coefficients whose F lies within 2^-36 of a half-integer (near_half), for an exact
    recomputation by the caller.
    """
    R, L, N = x.shape
    mask = t - 1  # t is a power of two with t·p < 2^63 (BfvParams)
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
