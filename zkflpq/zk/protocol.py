"""Prover and verifier of the exact-L2-norm proof v3 for multi-message BFV ciphertexts.

Short witness blocks (sent as masked responses z = y + c·s): m and e1 per chunk (k, N),
u and e2 per group (g, N), and the BDLOP randomness r (ℓ, d). BDLOP messages (masked
openings derived by the verifier), all in the subring R_d: jl (y_m ‖ y_e), a (the
four-square completion), g_1..g_ρ, G1_1..G1_ρ. The relations about coefficients
(JL rows, the norm) see every R_N block as N/d subring elements (`_views`).

One Σ-repetition with a challenge c ∈ R_d: q's primes are ≡ 5 (mod 8), so challenge
differences are units (proofs/security.md). q is not NTT-friendly: products go through
the exact-product engines of ProofBounds; everything absorbed is a residue array in
the coefficient domain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from ..bfv.params import BfvParams
from ..bfv.scheme import (
    Ciphertexts,
    EncryptionRandomness,
    PublicKey,
    encrypt_deterministic,
    ring_of,
)
from ..ring import Csprng, RingContext, discrete_gaussian, ternary, uniform_mod
from ..ring.exact import ExactProducts
from ..ring.poly import mul_sparse_ternary_int
from ..ring.threads import worker_threads
from .bdlop import CommitmentKey, commitment_key
from .challenge import Challenge, operator_norm, sample_challenge
from .errors import NormBoundExceeded, ProofDecodeError, ProvingFailed
from .foursquare import four_squares
from .jl import JL_ROWS, jl_combine, jl_project
from .params import ProofBounds, ZkParams, zk_params_for
from .proof import BLOCKS, NormProof, decode_proof_bytes
from .transcript import Transcript

__all__ = ["NormStatement", "Verdict", "prove", "verify", "decode_proof", "PROTOCOL_ID",
           "exact_norm2"]

PROTOCOL_ID = b"zkflpq-norm-proof-v3"  # v3: one repetition over a partially splitting ring
MAX_ATTEMPTS = 200


def _canonical(a: object, primes: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """An int64 residue array of this shape with every entry in [0, p_i)."""
    if not (isinstance(a, np.ndarray) and a.dtype == np.int64 and a.shape == shape):
        return False
    p = np.array(primes, dtype=np.int64)[:, None]
    return bool(a.size == 0 or ((a >= 0).all() and (a < p).all()))


@dataclass(frozen=True, eq=False)
class NormStatement:
    """What is proven: `ciphertexts` under `public_key` encrypt m with ‖m‖_2 ≤ bound,
    bound to `context` (protocol version, aggregator, round, client)."""

    params: BfvParams
    public_key: PublicKey
    ciphertexts: Ciphertexts
    bound: int
    context: bytes

    def __post_init__(self) -> None:
        if self.public_key.params != self.params or self.ciphertexts.params != self.params:
            raise ValueError("statement mixes parameter sets")
        if not isinstance(self.bound, int) or not 1 <= self.bound < 1 << 34:
            raise ValueError("bound must be an int in [1, 2^34)")
        zk_params_for(self.params).bounds(self.k, self.bound)  # no-wrap limit on B
        if not isinstance(self.context, bytes) or len(self.context) > 4096:
            raise ValueError("context must be at most 4096 bytes")
        L, n, primes = len(self.params.primes), self.params.n, self.params.primes
        ct = self.ciphertexts
        # A residue ≥ p is a second representation of the same ring element: refused.
        if not (_canonical(ct.c0, primes, (self.k, L, n))
                and _canonical(ct.c1, primes, (ct.groups, L, n))):
            raise ValueError("ciphertext residues must be int64 in [0, p_i)")
        if not (_canonical(self.public_key.a, primes, (L, n)) and _canonical(
                self.public_key.b, primes, (self.params.components, L, n))):
            raise ValueError("public-key residues must be int64 in [0, p_i)")

    @property
    def k(self) -> int:
        return len(self.ciphertexts)


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str | None = None  # machine-readable reason code when rejected

    def __bool__(self) -> bool:
        return self.accepted


def decode_proof(data: bytes, statement: NormStatement) -> NormProof:
    return decode_proof_bytes(data, zk_params_for(statement.params), statement.k, statement.bound)


# -- shared pieces -------------------------------------------------------------------------

def exact_norm2(v: np.ndarray) -> int | None:
    """‖v‖² exactly (Python int) for an int64 array with |v| < 2^34; None if larger.

    Split v = hi·2^16 + lo (0 ≤ lo < 2^16): the three partial sums stay far below 2^63
    for up to 2^24 entries, so no int64 product or sum wraps (np.dot(v, v) does)."""
    flat = np.ascontiguousarray(v, dtype=np.int64).ravel()
    if flat.size > 1 << 24:
        raise ValueError("vector too long")
    if flat.size and np.abs(flat).max() >= 1 << 34:
        return None
    hi, lo = flat >> 16, flat & 0xFFFF
    return ((int(np.dot(hi, hi)) << 32) + (int(np.dot(hi, lo)) << 17) + int(np.dot(lo, lo)))


def _views(zk: ZkParams, w: np.ndarray) -> np.ndarray:
    """R_N polynomials (b, N) as subring elements (b·N/d, d): w = Σ_i X^i·w_i(X^{N/d}),
    so component i of polynomial j is w[j, i::N/d]. A fixed permutation of the
    coefficients, hence norms and JL projections see the same vector."""
    s = zk.views
    b = w.shape[0]
    return np.ascontiguousarray(w.reshape(b, zk.d, s).transpose(0, 2, 1)).reshape(b * s, zk.d)


def _embedded(zk: ZkParams, c: Challenge) -> tuple[np.ndarray, np.ndarray]:
    """c ∈ R_d as an element of R_N (Y = X^{N/d}): monomial positions and signs."""
    return c.positions * zk.views, c.coefficients


@dataclass
class _Ctx:
    """Per-statement objects shared by prover and verifier."""

    zk: ZkParams
    bnds: ProofBounds
    RN: RingContext  # R_N mod q (residues)
    RS: RingContext  # R_d mod q (residues)
    EN: ExactProducts
    ES: ExactProducts
    ES2: ExactProducts
    ck: CommitmentKey

    @classmethod
    def of(cls, st: NormStatement) -> _Ctx:
        zk = zk_params_for(st.params)
        bnds = zk.bounds(st.k, st.bound)
        ck = commitment_key(zk)
        return cls(zk, bnds, ring_of(st.params), ck.ring, *bnds.engines, ck)

    def to_q(self, engine: ExactProducts, x_hat: np.ndarray) -> np.ndarray:
        return engine.to_residues(x_hat, self.RS.basis)

    def lift(self, engine: ExactProducts, residues: np.ndarray) -> np.ndarray:
        return engine.from_residues(residues, self.RS.basis)


def _statement_transcript(st: NormStatement) -> Transcript:
    T = Transcript(PROTOCOL_ID)
    T.absorb(b"params", st.params.id_bytes)
    T.absorb(b"public-key", st.public_key.digest)
    T.absorb(b"context", st.context)
    T.absorb(b"bound", st.bound.to_bytes(8, "little"))
    T.absorb_residues(b"c1", st.ciphertexts.c1)
    T.absorb_residues(b"c0", st.ciphertexts.c0)
    return T


class _Relation:
    """μ_r, γ_r, β_r and the linear maps L_r once the JL responses are fixed.

    α_{r,b} = Σ_j γ_{r,j}·Π_{j,b} over the short column blocks b (m views, then u, e1,
    e2 views) is needed in the product domain. The prover keeps it (`keep=True`: L_r(s)
    and L_r(y) for every Σ-attempt); the verifier needs one L_r(z) and streams it slab by
    slab, never holding all ρ·blocks·M·d of it (≈ 190 MB at d = 2^20)."""

    SLAB = 64  # column blocks per streamed slab

    def __init__(self, ctx: _Ctx, k: int, T: Transcript, seed_jl: bytes,
                 z_jm: np.ndarray, z_je: np.ndarray, keep: bool = True) -> None:
        zk = ctx.zk
        self.ctx = ctx
        q = zk.bfv.q
        self.mu = [int.from_bytes(T.squeeze(b"mu-%d" % r, 48), "little") % q
                   for r in range(zk.rho)]
        gamma = np.frombuffer(T.squeeze(b"gamma", zk.rho * 2 * JL_ROWS * 4), dtype="<u4")
        gamma = gamma.astype(np.int64).reshape(zk.rho, 2 * JL_ROWS)
        z_j = [int(v) for v in np.concatenate([z_jm, z_je])]
        self.beta = [sum(int(g) * v for g, v in zip(gamma[r], z_j, strict=True)) % q
                     for r in range(zk.rho)]
        d, s = zk.d, zk.views
        g = zk.bfv.groups(k)
        self.seed_jl, self.gamma = seed_jl, gamma
        self.m_blocks = k * s  # the a block follows them in the "m" stream
        self.blocks = k * s + (2 * g + k) * s
        ES2 = ctx.ES2
        alpha_a = jl_combine(seed_jl, b"m", 1, d, gamma[:, :JL_ROWS], first=self.m_blocks)
        self.alpha_a_hat = RingContext.sigma_ntt(ES2.from_int(alpha_a[:, 0]))  # (ρ, M2, d)
        g_jl = np.zeros((zk.rho, zk.jl_polys * d), dtype=np.int64)
        g_jl[:, : 2 * JL_ROWS] = gamma
        self.gamma_jl_hat = RingContext.sigma_ntt(
            ES2.from_int(g_jl.reshape(zk.rho, zk.jl_polys, d)))
        self.alpha_hat: np.ndarray | None = None
        if keep:  # built slab by slab: the int64 temporaries stay cache-sized
            self.alpha_hat = np.empty((zk.rho, self.blocks, len(ctx.ES.aux_primes), d),
                                      dtype=np.uint32)
            for lo in range(0, self.blocks, self.SLAB):
                hi = min(self.blocks, lo + self.SLAB)
                self.alpha_hat[:, lo:hi] = self._alpha_hat(lo, hi)

    def _alpha_hat(self, lo: int, hi: int) -> np.ndarray:
        """σ(α_{r,b}) in the ES product domain for short blocks lo ≤ b < hi: (ρ, hi−lo, M, d)
        uint32 (residues < 2^31), transformed one relation at a time."""
        ctx, zk = self.ctx, self.ctx.zk
        ES, d, mb = ctx.ES, zk.d, self.m_blocks
        parts = []
        if lo < mb:
            parts.append(jl_combine(self.seed_jl, b"m", min(hi, mb) - lo, d,
                                    self.gamma[:, :JL_ROWS], first=lo))
        if hi > mb:
            e_lo = max(lo, mb) - mb
            parts.append(jl_combine(self.seed_jl, b"e", hi - mb - e_lo, d,
                                    self.gamma[:, JL_ROWS:], first=e_lo))
        alpha = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        out = np.empty((zk.rho, hi - lo, len(ES.aux_primes), d), dtype=np.uint32)
        for r in range(zk.rho):
            out[r] = RingContext.sigma_ntt(ES.from_int(alpha[r]))
        return out

    def linear(self, short_hat: np.ndarray, a_res: np.ndarray, jl_res: np.ndarray
               ) -> np.ndarray:
        """L_r(w) mod q for all r (ρ, L, d): short_hat holds the short blocks (m views,
        u, e1, e2 views) in the ES product domain; a and jl come as residues mod q
        (uniform for masks and responses) and go through the squares engine."""
        ctx = self.ctx
        ES, ES2 = ctx.ES, ctx.ES2
        if self.alpha_hat is not None:
            acc = ES.multiply_accumulate(self.alpha_hat, short_hat)
        else:
            first = min(self.blocks, self.SLAB)
            acc = ES.multiply_accumulate(self._alpha_hat(0, first), short_hat[:first])
            for lo in range(first, self.blocks, self.SLAB):
                hi = min(self.blocks, lo + self.SLAB)
                acc = ES.add(acc, ES.multiply_accumulate(self._alpha_hat(lo, hi),
                                                         short_hat[lo:hi]))
        part_q = ctx.to_q(ES, acc)
        a_hat = ctx.lift(ES2, a_res)
        jl_hat = ctx.lift(ES2, jl_res)
        other = ES2.add(ES2.mul(self.alpha_a_hat, a_hat[None]),
                        ES2.multiply_accumulate(self.gamma_jl_hat, jl_hat))
        return ctx.RS.add(part_q, ctx.to_q(ES2, other))


def _quadratic(ctx: _Ctx, x_hat: np.ndarray, y_hat: np.ndarray, xa: np.ndarray,
               ya: np.ndarray) -> np.ndarray:
    """Σ_Q σ(x_Q)·y_Q mod q (L, d) over the m views (ES domain, (blocks, M, d)) and the
    a block (residues, through the squares engine)."""
    ES, ES2 = ctx.ES, ctx.ES2
    acc = ES.multiply_accumulate(RingContext.sigma_ntt(x_hat)[None], y_hat)[0]
    sq = ES2.mul(RingContext.sigma_ntt(ctx.lift(ES2, xa)), ctx.lift(ES2, ya))
    return ctx.RS.add(ctx.to_q(ES, acc), ctx.to_q(ES2, sq))


def _ciphertext_first(ctx: _Ctx, st: NormStatement, w: dict[str, np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(b_j·w_u + w_e1 + Δ·w_m, a·w_u + w_e2) per chunk and group, mod q."""
    RN, EN = ctx.RN, ctx.EN
    a_hat, b_hat = st.public_key.product_forms(EN)
    ct = st.ciphertexts
    u_hat = EN.from_int(w["u"])
    bu = EN.to_residues(EN.mul(b_hat[ct.component_of()], u_hat[ct.group_of()]), RN.basis)
    au = EN.to_residues(EN.mul(a_hat[None], u_hat), RN.basis)
    c0 = RN.add(RN.add(bu, RN.from_int(w["e1"])),
                RN.scalar_mul(RN.from_int(w["m"]), st.params.delta))
    c1 = RN.add(au, RN.from_int(w["e2"]))
    return c0, c1


def _short_views(ctx: _Ctx, w: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(m views, [u, e1, e2] views) of R_N blocks, as integers (JL column order)."""
    zk = ctx.zk
    return _views(zk, w["m"]), np.concatenate([_views(zk, w["u"]), _views(zk, w["e1"]),
                                               _views(zk, w["e2"])])


@nb.njit(cache=True)
def _dot_f64(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        s += float(a[i]) * float(b[i])
    return s


def _accept(rng: Csprng, z: list[np.ndarray], v: list[np.ndarray], sigmas: list[float],
            rate: float) -> bool:
    """Rejection step (Lyubashevsky 2012) on block-normalised vectors."""
    dot = sum(_dot_f64(zi.ravel(), vi.ravel()) / s ** 2
              for zi, vi, s in zip(z, v, sigmas, strict=True))
    vv = sum(_dot_f64(vi.ravel(), vi.ravel()) / s ** 2 for vi, s in zip(v, sigmas, strict=True))
    log_ratio = (-2.0 * dot + vv) / 2.0 - math.log(rate)
    u = (int.from_bytes(rng.random_bytes(7), "little") >> 3) / float(1 << 53)
    return u < math.exp(min(0.0, log_ratio))


def _fits(v: np.ndarray, width: int) -> bool:
    half = 1 << (width - 1)
    return bool(v.size == 0 or (v.min() >= -half and v.max() < half))


def _l2(v: np.ndarray) -> float:
    flat = np.ascontiguousarray(v).ravel()
    return math.sqrt(_dot_f64(flat, flat))


def _challenge(T: Transcript, zk: ZkParams) -> Challenge:
    return sample_challenge(T.squeeze(b"challenge", 32), zk.d, zk.challenge_weight)


# -- prover ------------------------------------------------------------------------------------

def prove(st: NormStatement, plaintext: np.ndarray, randomness: EncryptionRandomness,
          rng: Csprng | None = None, threads: int = 1) -> NormProof:
    """Prove that `st.ciphertexts` = Enc(plaintext; randomness) with ‖plaintext‖ ≤ st.bound.

    `threads` (1..64) worker threads share the products, conversions and JL passes; the
    proof is bit-identical for every thread count (given the same rng). Raises
    NormBoundExceeded if the plaintext is over the bound (nothing is produced),
    ValueError if the witness does not match the ciphertexts.
    """
    with worker_threads(threads):
        return _prove(st, plaintext, randomness, rng)


def _prove(st: NormStatement, plaintext: np.ndarray, randomness: EncryptionRandomness,
           rng: Csprng | None) -> NormProof:
    params = st.params
    ctx = _Ctx.of(st)
    k, n, B = st.k, params.n, st.bound
    rng = rng or Csprng()
    m = np.asarray(plaintext)
    if m.shape != (k, n) or m.dtype.kind not in "iu":
        raise ValueError("plaintext must be an integer array matching the ciphertexts")
    m = m.astype(np.int64)
    norm2 = exact_norm2(m)
    if norm2 is None or norm2 > B * B:
        raise NormBoundExceeded("‖m‖ exceeds the bound B: refusing to prove")
    secret = {"m": m, "e1": np.asarray(randomness.e1, np.int64),
              "u": np.asarray(randomness.u, np.int64), "e2": np.asarray(randomness.e2, np.int64)}
    bnds = ctx.bnds
    # Before the re-encryption: its products are exact only for ternary u, so a larger u
    # that does open the ciphertexts would be misreported as not opening them.
    if np.abs(secret["u"]).max() > 1 or any(_l2(secret[b]) > bnds.beta[b]
                                            for b in ("e1", "u", "e2")):
        raise ProvingFailed("encryption randomness above the public bound: re-encrypt")
    again = encrypt_deterministic(st.public_key, m, randomness)
    if not (np.array_equal(again.c0, st.ciphertexts.c0)
            and np.array_equal(again.c1, st.ciphertexts.c1)):
        raise ValueError("witness does not open the statement's ciphertexts")
    return _prove_checked(st, ctx, rng, secret, norm2)


def _prove_checked(st: NormStatement, ctx: _Ctx, rng: Csprng, secret: dict[str, np.ndarray],
                   norm2: int) -> NormProof:
    zk, bnds, RS, ES, ck = ctx.zk, ctx.bnds, ctx.RS, ctx.ES, ctx.ck
    k, d, B, rho = st.k, zk.d, st.bound, zk.rho
    a_poly = np.zeros(d, dtype=np.int64)
    a_poly[:4] = four_squares(B * B - norm2, rng)
    m_views, e_views = _short_views(ctx, secret)
    w_m = np.concatenate([m_views, a_poly[None]])
    T1 = _statement_transcript(st)

    # JL step: commitments, then the projections, restarted on rejection.
    for _ in range(MAX_ATTEMPTS):
        r = ternary(rng, (zk.ell, d))
        r_hat = ES.from_int(r)
        y_m = discrete_gaussian(rng, bnds.jl_sigma["m"], (JL_ROWS,))
        y_e = discrete_gaussian(rng, bnds.jl_sigma["e"], (JL_ROWS,))
        jl_flat = np.zeros(zk.jl_polys * d, dtype=np.int64)
        jl_flat[:JL_ROWS], jl_flat[JL_ROWS: 2 * JL_ROWS] = y_m, y_e
        jl_polys = jl_flat.reshape(zk.jl_polys, d)
        g = uniform_mod(rng, zk.bfv.primes, (rho, d))
        g[:, :, 0] = 0
        msgs = np.concatenate([RS.from_int(np.concatenate([jl_polys, a_poly[None]])), g])
        t0 = ck.a0_times(ES, r_hat, r)
        t_msg = RS.add(ck.inner(ES, zk.rows_sent, r_hat), msgs)
        T2 = T1.copy()
        T2.absorb_residues(b"t0", t0)
        T2.absorb_residues(b"t-msg", t_msg)
        seed_jl = T2.squeeze(b"jl-seed", 32)
        v_m = jl_project(seed_jl, b"m", w_m)
        v_e = jl_project(seed_jl, b"e", e_views)
        if _l2(v_m) > bnds.jl_shift_bounds["m"] or _l2(v_e) > bnds.jl_shift_bounds["e"]:
            continue
        z_jm, z_je = y_m + v_m, y_e + v_e
        if not _accept(rng, [z_jm, z_je], [v_m, v_e], [bnds.jl_sigma["m"], bnds.jl_sigma["e"]],
                       zk.repetition_rate(zk.alpha_jl)):
            continue
        if (_l2(z_jm) > bnds.jl_norm_bound["m"] or _l2(z_je) > bnds.jl_norm_bound["e"]
                or not _fits(z_jm, bnds.jl_width["m"]) or not _fits(z_je, bnds.jl_width["e"])):
            continue
        break
    else:
        raise ProvingFailed("JL rejection sampling did not terminate")
    T2.absorb_array(b"z-jm", z_jm)
    T2.absorb_array(b"z-je", z_je)

    # Aggregated relations h_r = F_r(s): ct(h_r) = 0 for the honest prover.
    rel = _Relation(ctx, k, T2, seed_jl, z_jm, z_je)
    mv_hat = ES.from_int(m_views)
    s_short_hat = np.concatenate([mv_hat, ES.from_int(e_views)])
    a_res, jl_res = RS.from_int(a_poly), RS.from_int(jl_polys)
    quad = _quadratic(ctx, mv_hat, mv_hat, a_res, a_res)
    lin = rel.linear(s_short_hat, a_res, jl_res)
    h = np.empty((rho, len(zk.bfv.primes), d), dtype=np.int64)
    for i in range(rho):
        f = RS.add(RS.scalar_mul(quad, rel.mu[i]), lin[i])
        h[i] = RS.add(RS.add(f, g[i]), RS.constant(-(rel.mu[i] * B * B + rel.beta[i])))
    if h[:, :, 0].any():
        raise AssertionError("honest relation has a non-zero constant term")
    T2.absorb_residues(b"h", h)

    # Σ-protocol: masks, challenge, responses (one repetition, rejection on all blocks).
    sigma = bnds.sigma
    secret = dict(secret, r=r)
    for _ in range(MAX_ATTEMPTS):
        y = {b: discrete_gaussian(rng, sigma[b], secret[b].shape) for b in BLOCKS}
        if any(np.abs(y[b]).max() > bnds.mask_inf_bound[b] for b in BLOCKS):
            continue  # keeps every product within its engine's capacity (witness-free)
        T3 = T2.copy()
        t_G1, w_c0, w_c1, w0, v = _first_message(st, ctx, rel, y, r_hat, mv_hat, a_res)
        _absorb_first_message(T3, t_G1, w_c0, w_c1, w0, v)
        c = _challenge(T3, zk)
        shift = _shifts(zk, c, secret)
        if any(_l2(shift[b]) > bnds.shift_bounds[b] * (1 + 1e-9) for b in BLOCKS):
            # Impossible for c ∈ C' and witnesses within β_b (‖c·s‖ ≤ ‖c‖_op·‖s‖).
            raise AssertionError("challenge operator-norm bound violated")
        z = {b: y[b] + shift[b] for b in BLOCKS}
        if not _accept(rng, [z[b] for b in BLOCKS], [shift[b] for b in BLOCKS],
                       [sigma[b] for b in BLOCKS], zk.repetition_rate(zk.alpha)):
            continue
        if any(_l2(z[b]) > bnds.z_norm_bound[b] or not bnds.z_fits(b, z[b]) for b in BLOCKS):
            continue
        return NormProof(st.params, k, B, t0, t_msg, t_G1, h, z_jm, z_je, c, z)
    raise ProvingFailed("rejection sampling did not terminate")


def _shifts(zk: ZkParams, c: Challenge, secret: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """c·s_b over the integers: R_N blocks with c embedded, r in R_d."""
    pos_n, sgn = _embedded(zk, c)
    out = {b: mul_sparse_ternary_int(secret[b], pos_n, sgn) for b in ("m", "e1", "u", "e2")}
    out["r"] = mul_sparse_ternary_int(secret["r"], c.positions, c.coefficients)
    return out


def _first_message(st, ctx: _Ctx, rel: _Relation, y, r_hat, m_hat, a_res):
    """(t_G1, W_c0, W_c1, W0, v) for masks y, all residues mod q."""
    zk, RS, ES, ck = ctx.zk, ctx.RS, ctx.ES, ctx.ck
    yr_hat = ES.from_int(y["r"])
    # Masks of the BDLOP messages, y_x = −<b_x, y_r> (uniform mod q).
    derived = RS.neg(ck.inner(ES, zk.rows_sent, yr_hat))
    ya, yg, yjl = derived[zk.row_a], derived[zk.rows_g], derived[: zk.jl_polys]
    w_c0, w_c1 = _ciphertext_first(ctx, st, y)
    w0 = ck.a0_times(ES, yr_hat, y["r"])
    ym_views, ye_views = _short_views(ctx, y)
    ym_hat = ES.from_int(ym_views)
    cross = RS.add(_quadratic(ctx, ym_hat, m_hat, ya, a_res),
                   _quadratic(ctx, m_hat, ym_hat, a_res, ya))
    g0 = _quadratic(ctx, ym_hat, ym_hat, ya, ya)
    lin = rel.linear(np.concatenate([ym_hat, ES.from_int(ye_views)]), ya, yjl)
    G1 = np.stack([RS.add(RS.add(yg[j], RS.scalar_mul(cross, rel.mu[j])), lin[j])
                   for j in range(zk.rho)])
    bG1_r = ck.inner(ES, zk.rows_G1, r_hat)
    t_G1 = RS.add(bG1_r, G1)
    bG1_y = ck.inner(ES, zk.rows_G1, yr_hat)
    v = np.stack([RS.add(RS.scalar_mul(g0, rel.mu[j]), bG1_y[j]) for j in range(zk.rho)])
    return t_G1, w_c0, w_c1, w0, v


def _absorb_first_message(T: Transcript, t_G1, w_c0, w_c1, w0, v) -> None:
    """The Σ-protocol's first message, in the order prover and verifier both absorb it."""
    T.absorb_residues(b"t-G1", t_G1)
    T.absorb_residues(b"W-c0", w_c0)
    T.absorb_residues(b"W-c1", w_c1)
    T.absorb_residues(b"W0", w0)
    T.absorb_residues(b"v", v)


# -- verifier ----------------------------------------------------------------------------------

def verify(st: NormStatement, proof: NormProof | bytes, threads: int = 1) -> Verdict:
    """Verify a norm proof against its statement on `threads` worker threads (1..64; the
    verdict does not depend on it). Never raises on malformed proofs."""
    with worker_threads(threads):
        return _verify(st, proof)


def _verify(st: NormStatement, proof: NormProof | bytes) -> Verdict:
    zk = zk_params_for(st.params)
    if not isinstance(proof, NormProof):
        try:
            proof = decode_proof(proof, st)
        except ProofDecodeError:
            return Verdict(False, "malformed")
    if proof.params != st.params or proof.k != st.k or proof.bound != st.bound:
        return Verdict(False, "statement_mismatch")
    try:
        bnds = zk.bounds(st.k, st.bound)
    except ValueError:
        return Verdict(False, "statement_mismatch")
    if not _shapes_ok(proof, zk, bnds):
        return Verdict(False, "malformed")
    # Cheap checks first: the encoding already forced c ∈ C; C' adds ‖c‖_op ≤ η.
    if operator_norm(proof.c.dense()) > zk.eta:
        return Verdict(False, "challenge_invalid")
    if proof.h[:, :, 0].any():
        return Verdict(False, "relation_nonzero")
    if _l2(proof.z_jm) > bnds.jl_norm_bound["m"] or _l2(proof.z_je) > bnds.jl_norm_bound["e"]:
        return Verdict(False, "jl_too_large")
    if any(_l2(proof.z[b]) > bnds.z_norm_bound[b] or not bnds.z_fits(b, proof.z[b])
           for b in BLOCKS):
        return Verdict(False, "response_too_large")
    ok = _challenge_recomputes(st, proof, _Ctx.of(st))
    return Verdict(True) if ok else Verdict(False, "proof_invalid")


def _int_array(a: object, shape: tuple[int, ...]) -> bool:
    return isinstance(a, np.ndarray) and a.dtype == np.int64 and a.shape == shape


def _shapes_ok(p: NormProof, zk: ZkParams, bnds: ProofBounds) -> bool:
    """Types, dtypes, shapes and canonical residues of an in-process NormProof (a decoded
    one always passes): nothing below may raise or silently convert."""
    primes, L, d = zk.bfv.primes, len(zk.bfv.primes), zk.d
    want = {"t0": (zk.kappa, L, d), "t_msg": (zk.jl_polys + 1 + zk.rho, L, d),
            "t_G1": (zk.rho, L, d), "h": (zk.rho, L, d)}
    if not all(_canonical(getattr(p, f, None), primes, s) for f, s in want.items()):
        return False
    if not (_int_array(p.z_jm, (JL_ROWS,)) and _int_array(p.z_je, (JL_ROWS,))):
        return False
    if not isinstance(p.z, dict) or set(p.z) != set(BLOCKS):
        return False
    sizes = {"m": (p.k, zk.n), "e1": (p.k, zk.n), "u": (bnds.groups, zk.n),
             "e2": (bnds.groups, zk.n), "r": (zk.ell, d)}
    if not all(_int_array(p.z[b], sizes[b]) for b in BLOCKS):
        return False
    return (isinstance(p.c, Challenge) and p.c.n == d
            and len(p.c.pairs) == zk.challenge_weight)


def _challenge_recomputes(st: NormStatement, p: NormProof, ctx: _Ctx) -> bool:
    zk, RS, ES, ck = ctx.zk, ctx.RS, ctx.ES, ctx.ck
    T = _statement_transcript(st)
    T.absorb_residues(b"t0", p.t0)
    T.absorb_residues(b"t-msg", p.t_msg)
    seed_jl = T.squeeze(b"jl-seed", 32)
    T.absorb_array(b"z-jm", p.z_jm)
    T.absorb_array(b"z-je", p.z_je)
    rel = _Relation(ctx, st.k, T, seed_jl, p.z_jm, p.z_je, keep=False)
    T.absorb_residues(b"h", p.h)

    c = p.c
    pos, sgn = c.positions, c.coefficients

    def times_c(x: np.ndarray) -> np.ndarray:
        return RS.mul_sparse_ternary(x, pos, sgn)

    z = p.z
    zr_hat = ES.from_int(z["r"])
    # Masked openings of the BDLOP messages: z_x = c·t_x − <b_x, z_r>.
    zd = RS.sub(times_c(p.t_msg), ck.inner(ES, zk.rows_sent, zr_hat))
    za, zg, zjl = zd[zk.row_a], zd[zk.rows_g], zd[: zk.jl_polys]
    # Ciphertext relations: W' = (b_j·z_u + z_e1 + Δ·z_m − c·c0, a·z_u + z_e2 − c·c1).
    RN = ctx.RN
    pos_n, _ = _embedded(zk, c)
    w_c0, w_c1 = _ciphertext_first(ctx, st, z)
    w_c0 = RN.sub(w_c0, RN.mul_sparse_ternary(st.ciphertexts.c0, pos_n, sgn))
    w_c1 = RN.sub(w_c1, RN.mul_sparse_ternary(st.ciphertexts.c1, pos_n, sgn))
    w0 = RS.sub(ck.a0_times(ES, zr_hat, z["r"]), times_c(p.t0))
    zm_views, ze_views = _short_views(ctx, z)
    zm_hat = ES.from_int(zm_views)
    c_res = RS.from_int(c.dense())
    c2_res = times_c(c_res)
    quad = RS.sub(_quadratic(ctx, zm_hat, zm_hat, za, za),
                  RS.scalar_mul(c2_res, st.bound * st.bound))
    lin = rel.linear(np.concatenate([zm_hat, ES.from_int(ze_views)]), za, zjl)
    bz = ck.inner(ES, zk.rows_G1, zr_hat)
    v = np.empty_like(p.h)
    for j in range(zk.rho):
        acc = RS.add(times_c(zg[j]), RS.scalar_mul(quad, rel.mu[j]))
        acc = RS.add(acc, times_c(RS.sub(lin[j], RS.scalar_mul(c_res, rel.beta[j]))))
        acc = RS.sub(acc, times_c(times_c(p.h[j])))
        acc = RS.sub(acc, times_c(p.t_G1[j]))
        v[j] = RS.add(acc, bz[j])
    _absorb_first_message(T, p.t_G1, w_c0, w_c1, w0, v)
    return _challenge(T, zk) == c
