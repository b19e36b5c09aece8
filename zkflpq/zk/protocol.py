"""Prover and verifier of the exact-L2-norm proof for BFV ciphertexts (spec §3–§5).

Blocks of the short witness s, per chunk i = 1..k: u_i, e1_i, e2_i, m_i (sent as
masked responses z = y + c·s), and the BDLOP randomness r. BDLOP messages (masked
openings derived by the verifier): jl (y_m ‖ y_e packed in one polynomial), a (the
four-square completion, a full polynomial so the JL projection covers every
coefficient of it), g_1..g_ρ, G1_1..G1_ρ. W, v and every derived value are hashed
in the NTT domain (a bijection), which saves the inverse transforms.
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
from ..ring import Csprng, discrete_gaussian, ternary, uniform_mod
from ..ring.ntt import multiply_accumulate
from ..ring.poly import mul_sparse_ternary_int
from .bdlop import commitment_key
from .challenge import Challenge, operator_norm, sample_challenge
from .errors import NormBoundExceeded, ProofDecodeError, ProvingFailed
from .foursquare import four_squares
from .jl import JL_ROWS, jl_combine, jl_project
from .params import ProofBounds, ZkParams, zk_params_for
from .proof import NormProof, decode_proof_bytes
from .transcript import Transcript

__all__ = ["NormStatement", "Verdict", "prove", "verify", "decode_proof", "PROTOCOL_ID"]

PROTOCOL_ID = b"zkflpq-norm-proof-v2"  # v2: R = 4 repetitions and a grinding nonce
MAX_ATTEMPTS = 200


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
        if not 1 <= self.bound < 1 << 34:
            raise ValueError("bound must be in [1, 2^34)")
        zk_params_for(self.params).bounds(self.k, self.bound)  # no-wrap limit on B (spec §6)
        if len(self.context) > 4096:
            raise ValueError("context too long")

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

def _statement_transcript(st: NormStatement) -> Transcript:
    T = Transcript(PROTOCOL_ID)
    T.absorb(b"params", st.params.id_bytes)
    T.absorb(b"public-key", st.public_key.digest)
    T.absorb(b"context", st.context)
    T.absorb(b"bound", st.bound.to_bytes(8, "little"))
    T.absorb_residues(b"ciphertexts", st.ciphertexts.data)
    return T


def _ntt_int(R, x: np.ndarray) -> np.ndarray:
    return R.ntt(R.from_int(x))


class _Relation:
    """μ_r, γ_r and the linear maps L_r after the JL responses are fixed (spec §4 step 4)."""

    def __init__(self, zk: ZkParams, k: int, T: Transcript, seed_jl: bytes,
                 z_jm: np.ndarray, z_je: np.ndarray) -> None:
        R = ring_of(zk.bfv)
        self.R = R
        q = R.q
        self.mu = [int.from_bytes(T.squeeze(b"mu-%d" % r, 48), "little") % q
                   for r in range(zk.rho)]
        gamma = np.frombuffer(T.squeeze(b"gamma", zk.rho * 2 * JL_ROWS * 4), dtype="<u4")
        gamma = gamma.astype(np.int64).reshape(zk.rho, 2 * JL_ROWS)
        z_j = [int(v) for v in np.concatenate([z_jm, z_je])]
        self.beta = [sum(int(g) * v for g, v in zip(gamma[r], z_j, strict=True)) % q
                     for r in range(zk.rho)]
        n = zk.n
        alpha = np.concatenate([
            jl_combine(seed_jl, b"m", k + 1, n, gamma[:, :JL_ROWS]),
            jl_combine(seed_jl, b"e", 3 * k, n, gamma[:, JL_ROWS:]),
        ], axis=1)  # (ρ, 4k+1, N): blocks m_1..m_k, a, u_1..u_k, e1_1..e1_k, e2_1..e2_k
        # Residues < 2^30 stored as uint32 (half the memory of the largest array here),
        # one repetition at a time so the int64 temporaries stay small.
        self.alpha_hat = np.empty(alpha.shape[:2] + (len(zk.bfv.primes), n), dtype=np.uint32)
        for r in range(zk.rho):
            self.alpha_hat[r] = R.sigma_ntt(_ntt_int(R, alpha[r]))
        g_jl = np.zeros((zk.rho, zk.jl_polys * n), dtype=np.int64)
        g_jl[:, : 2 * JL_ROWS] = gamma
        self.gamma_jl_hat = R.sigma_ntt(_ntt_int(R, g_jl.reshape(zk.rho, zk.jl_polys, n)))

    def linear_ntt(self, blocks_hat: np.ndarray, jl_hat: np.ndarray) -> np.ndarray:
        """L_r(w) for all r, NTT domain (ρ, L, N); blocks_hat is (4k+1, L, N) and
        jl_hat (jl_polys, L, N)."""
        R = self.R
        return R.add(multiply_accumulate(self.alpha_hat, blocks_hat, R.tables),
                     multiply_accumulate(self.gamma_jl_hat, jl_hat, R.tables))


def _blocks(m, a, u, e1, e2) -> np.ndarray:
    """Stack in the JL block order: m_1..m_k, a, u_1..u_k, e1.., e2.. (NTT arrays)."""
    return np.concatenate([m, a[None], u, e1, e2])


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


# -- prover ------------------------------------------------------------------------------------

def prove(st: NormStatement, plaintext: np.ndarray, randomness: EncryptionRandomness,
          rng: Csprng | None = None) -> NormProof:
    """Prove that `st.ciphertexts` = Enc(plaintext; randomness) with ‖plaintext‖ ≤ st.bound.

    Raises NormBoundExceeded if the plaintext is over the bound (nothing is produced),
    ValueError if the witness does not match the ciphertexts.
    """
    params = st.params
    zk = zk_params_for(params)
    k, n, B = st.k, params.n, st.bound
    bnds = zk.bounds(k, B)
    R = ring_of(params)
    ck = commitment_key(zk)
    rng = rng or Csprng()
    m = np.asarray(plaintext, dtype=np.int64)
    if m.shape != (k, n):
        raise ValueError("plaintext shape does not match the ciphertexts")
    norm2 = int(np.dot(m.ravel(), m.ravel())) if np.abs(m).max(initial=0) < 1 << 31 else None
    if norm2 is None or norm2 > B * B:
        raise NormBoundExceeded("‖m‖ exceeds the bound B: refusing to prove")
    u, e1, e2 = (np.asarray(x, dtype=np.int64)
                 for x in (randomness.u, randomness.e1, randomness.e2))
    if not np.array_equal(encrypt_deterministic(st.public_key, m, randomness).data,
                          st.ciphertexts.data):
        raise ValueError("witness does not open the statement's ciphertexts")
    if (np.abs(u).max() > 1 or _l2(u) > bnds.beta_u or _l2(e1) > bnds.beta_e
            or _l2(e2) > bnds.beta_e):
        raise ProvingFailed("encryption randomness above the public bound: re-encrypt")
    return _prove_checked(st, zk, bnds, R, ck, rng, m, norm2, u, e1, e2)


def _prove_checked(st, zk, bnds: ProofBounds, R, ck, rng, m, norm2, u, e1, e2) -> NormProof:
    k, n, B = st.k, zk.n, st.bound
    rho = zk.rho
    a_poly = np.zeros(n, dtype=np.int64)
    a_poly[:4] = four_squares(B * B - norm2)

    m_hat, u_hat, e1_hat, e2_hat = (_ntt_int(R, x) for x in (m, u, e1, e2))
    a_hat = _ntt_int(R, a_poly)
    sm_hat = R.sigma_ntt(m_hat)
    sa_hat = R.sigma_ntt(a_hat)
    q_hat = R.add(R.mul_ntt(sm_hat, m_hat).sum(axis=0) % R.p, R.mul_ntt(sa_hat, a_hat))
    w_m = np.concatenate([m, a_poly[None]])
    w_e = np.concatenate([u, e1, e2])
    T1 = _statement_transcript(st)

    # Steps 2–3: commitments and JL responses, restarted on rejection.
    for _ in range(MAX_ATTEMPTS):
        r = ternary(rng, (zk.ell, n))
        r_hat = _ntt_int(R, r)
        y_m = discrete_gaussian(rng, bnds.jl_sigma["m"], (JL_ROWS,))
        y_e = discrete_gaussian(rng, bnds.jl_sigma["e"], (JL_ROWS,))
        jl_flat = np.zeros(zk.jl_polys * n, dtype=np.int64)
        jl_flat[:JL_ROWS], jl_flat[JL_ROWS: 2 * JL_ROWS] = y_m, y_e
        jl_polys = jl_flat.reshape(zk.jl_polys, n)
        g = uniform_mod(rng, zk.bfv.primes, (rho, n))
        g[:, :, 0] = 0
        msgs = np.concatenate([R.from_int(np.concatenate([jl_polys, a_poly[None]])), g])
        t0 = ck.commit_t0(r_hat)
        t_msg = R.add(R.intt(ck.inner_ntt(zk.rows_sent, r_hat)), msgs)
        T2 = T1.copy()
        T2.absorb_residues(b"t0", t0)
        T2.absorb_residues(b"t-msg", t_msg)
        seed_jl = T2.squeeze(b"jl-seed", 32)
        v_m = jl_project(seed_jl, b"m", w_m)
        v_e = jl_project(seed_jl, b"e", w_e)
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

    # Step 4: aggregated relations and h_r = F_r(s).
    rel = _Relation(zk, k, T2, seed_jl, z_jm, z_je)
    s_blocks = _blocks(m_hat, a_hat, u_hat, e1_hat, e2_hat)
    jl_hat = _ntt_int(R, jl_polys)
    l_s = rel.linear_ntt(s_blocks, jl_hat)
    h = np.empty((rho,) + q_hat.shape, dtype=np.int64)
    for i in range(rho):
        f_hat = R.add(R.scalar_mul(q_hat, rel.mu[i]), l_s[i])
        const = R.constant(-(rel.mu[i] * B * B + rel.beta[i]))
        h[i] = R.add(R.add(R.intt(f_hat), g[i]), const)
    if h[:, :, 0].any():
        raise AssertionError("honest relation has a non-zero constant term")
    T2.absorb_residues(b"h", h)

    # Steps 5–6: Σ-protocol masks, challenges, responses, run as zk.reps parallel
    # repetitions with independent challenges: R_q splits completely mod each p_i, so one
    # repetition is only ≈ 1/p_min sound (proofs/security.md F1). One rejection step
    # covers all repetitions; on rejection every repetition restarts.
    sigma = bnds.sigma
    secret = {"u": u, "e1": e1, "e2": e2, "m": m, "r": r}
    quad = (m_hat, sm_hat, a_hat, sa_hat)
    for _ in range(MAX_ATTEMPTS):
        T3 = T2.copy()
        ys, firsts = [], []
        for i in range(zk.reps):
            y = {b: discrete_gaussian(rng, sigma[b], secret[b].shape) for b in secret}
            ys.append(y)
            firsts.append(_mask_message(st, zk, R, ck, rel, quad, r_hat, y, i))
        T3.absorb_residues(b"t-G1", np.concatenate([f[0] for f in firsts]))
        T3.absorb_residues_stacked(b"W-ct", [f[1] for f in firsts])
        T3.absorb_residues(b"W0", np.stack([f[2] for f in firsts]))
        T3.absorb_residues(b"v", np.stack([f[3] for f in firsts]))
        nonce = T3.grind(b"grinding", zk.grinding_bits)
        challenges = _challenges(T3, zk)
        shifts = [{b: mul_sparse_ternary_int(secret[b], c.positions, c.coefficients)
                   for b in secret} for c in challenges]
        for shift in shifts:
            if any(_l2(shift[b]) > bnds.shift_bounds[b] * (1 + 1e-9) for b in secret):
                # Impossible for c ∈ C' and witnesses within β_b (‖c·s‖ ≤ ‖c‖_op·‖s‖).
                raise AssertionError("challenge operator-norm bound violated")
        for y, shift in zip(ys, shifts, strict=True):
            for b in secret:
                y[b] += shift[b]  # the masks become the responses (no third copy at 2^20)
        accepted = _accept(rng, [y[b] for b in secret for y in ys],
                           [sh[b] for b in secret for sh in shifts],
                           [sigma[b] for b in secret for _ in shifts],
                           zk.repetition_rate(zk.alpha))
        del shifts
        if not accepted:
            continue
        z = {b: np.stack([y[b] for y in ys]) for b in secret}
        if any(_l2(z[b]) > bnds.z_norm_bound[b] or not bnds.z_fits(b, z[b]) for b in secret):
            continue
        t_G1 = np.concatenate([f[0] for f in firsts])
        return NormProof(st.params, k, B, t0, t_msg, t_G1, h, z_jm, z_je,
                         tuple(challenges), z, nonce)
    raise ProvingFailed("rejection sampling did not terminate")


def _challenges(T: Transcript, zk: ZkParams) -> list[Challenge]:
    seeds = T.squeeze(b"challenges", 32 * zk.reps)
    return [sample_challenge(seeds[32 * i: 32 * i + 32], zk.n, zk.challenge_weight)
            for i in range(zk.reps)]


def _mask_message(st: NormStatement, zk: ZkParams, R, ck, rel: _Relation, quad, r_hat, y, i):
    """First message of Σ-repetition i for masks y: (t_G1_i, W_ct, W0, v), NTT domain
    except t_G1 (spec §4 step 5)."""
    m_hat, sm_hat, a_hat, sa_hat = quad
    y_r_hat = _ntt_int(R, y["r"])
    # Masks of the BDLOP messages y_x = −<b_x, y_r>: only the rows this repetition uses.
    derived = R.neg(ck.inner_ntt(zk.rows_sent, y_r_hat))
    yG1_hat = R.neg(ck.inner_ntt(zk.rows_G1_rep(i), y_r_hat))
    ym_hat, yu_hat = _ntt_int(R, y["m"]), _ntt_int(R, y["u"])
    ye1_hat, ye2_hat = _ntt_int(R, y["e1"]), _ntt_int(R, y["e2"])
    ya_hat = derived[zk.row_a]
    yg_hat = derived[zk.rows_g]
    p_hat = st.public_key.p_ntt
    # Residues < 2^31 kept as uint32 (what the transcript absorbs): the R repetitions'
    # W_ct are the prover's largest arrays at d = 2^20.
    w_ct = np.stack([
        R.add(R.add(R.mul_ntt(p_hat[0], yu_hat), ye1_hat), R.scalar_mul(ym_hat, st.params.delta)),
        R.add(R.mul_ntt(p_hat[1], yu_hat), ye2_hat),
    ], axis=1).astype(np.uint32)
    w0 = ck.a0_times_ntt(y_r_hat)
    sym_hat = R.sigma_ntt(ym_hat)
    sya_hat = R.sigma_ntt(ya_hat)
    cross = R.add(R.mul_ntt(sym_hat, m_hat).sum(axis=0) % R.p,
                  R.mul_ntt(sm_hat, ym_hat).sum(axis=0) % R.p)
    cross = R.add(cross, R.add(R.mul_ntt(sya_hat, a_hat), R.mul_ntt(sa_hat, ya_hat)))
    g0 = R.add(R.mul_ntt(sym_hat, ym_hat).sum(axis=0) % R.p, R.mul_ntt(sya_hat, ya_hat))
    l_y = rel.linear_ntt(_blocks(ym_hat, ya_hat, yu_hat, ye1_hat, ye2_hat),
                         derived[: zk.jl_polys])
    G1_hat = np.stack([R.add(R.add(yg_hat[j], R.scalar_mul(cross, rel.mu[j])), l_y[j])
                       for j in range(zk.rho)])
    t_G1 = R.add(R.intt(ck.inner_ntt(zk.rows_G1_rep(i), r_hat)), R.intt(G1_hat))
    v = np.stack([R.sub(R.scalar_mul(g0, rel.mu[j]), yG1_hat[j]) for j in range(zk.rho)])
    return t_G1, w_ct, w0, v


# -- verifier ----------------------------------------------------------------------------------

def verify(st: NormStatement, proof: NormProof | bytes) -> Verdict:
    """Verify a norm proof against its statement. Never raises on malformed proofs."""
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
    if not _shapes_ok(proof, zk):
        return Verdict(False, "malformed")
    # Cheap checks first (spec §5.1): the encoding already forced c ∈ C; C' adds ‖c‖_op ≤ η.
    if any(operator_norm(c.dense()) > zk.eta for c in proof.c):
        return Verdict(False, "challenge_invalid")
    if proof.h[:, :, 0].any():
        return Verdict(False, "relation_nonzero")
    if _l2(proof.z_jm) > bnds.jl_norm_bound["m"] or _l2(proof.z_je) > bnds.jl_norm_bound["e"]:
        return Verdict(False, "jl_too_large")
    if any(_l2(proof.z[b]) > bnds.z_norm_bound[b] for b in bnds.block_sizes):
        return Verdict(False, "response_too_large")
    try:
        ok = _challenge_recomputes(st, proof, zk)
    except ValueError:  # e.g. a statement whose ciphertext residues are out of range
        return Verdict(False, "malformed")
    return Verdict(True) if ok else Verdict(False, "proof_invalid")


def _shapes_ok(p: NormProof, zk: ZkParams) -> bool:
    L, n, k, R = len(zk.bfv.primes), zk.n, p.k, zk.reps
    want = {
        "t0": (zk.kappa, L, n), "t_msg": (zk.jl_polys + 1 + zk.rho, L, n),
        "t_G1": (R * zk.rho, L, n), "h": (zk.rho, L, n), "z_jm": (JL_ROWS,), "z_je": (JL_ROWS,),
    }
    if any(getattr(p, f).shape != s for f, s in want.items()):
        return False
    if set(p.z) != {"u", "e1", "e2", "m", "r"} or p.z["r"].shape != (R, zk.ell, n):
        return False
    if any(p.z[b].shape != (R, k, n) for b in ("u", "e1", "e2", "m")):
        return False
    if len(p.c) != R or any(c.n != n or len(c.pairs) != zk.challenge_weight for c in p.c):
        return False
    if not (isinstance(p.nonce, int) and 0 <= p.nonce < 1 << 64):
        return False
    polys = np.concatenate([p.t0, p.t_msg, p.t_G1, p.h])
    return bool((polys >= 0).all() and (polys < np.array(zk.bfv.primes)[:, None]).all())


def _challenge_recomputes(st: NormStatement, p: NormProof, zk: ZkParams) -> bool:
    R = ring_of(st.params)
    ck = commitment_key(zk)
    k = st.k
    T = _statement_transcript(st)
    T.absorb_residues(b"t0", p.t0)
    T.absorb_residues(b"t-msg", p.t_msg)
    seed_jl = T.squeeze(b"jl-seed", 32)
    T.absorb_array(b"z-jm", p.z_jm)
    T.absorb_array(b"z-je", p.z_je)
    rel = _Relation(zk, k, T, seed_jl, p.z_jm, p.z_je)
    T.absorb_residues(b"h", p.h)
    shared = (R.ntt(st.ciphertexts.data), R.ntt(p.t_msg), R.ntt(p.t0), R.ntt(p.h))
    firsts = [_recompute_first(st, p, zk, R, ck, rel, shared, i) for i in range(zk.reps)]
    T.absorb_residues(b"t-G1", p.t_G1)
    T.absorb_residues_stacked(b"W-ct", [f[0] for f in firsts])
    T.absorb_residues(b"W0", np.stack([f[1] for f in firsts]))
    T.absorb_residues(b"v", np.stack([f[2] for f in firsts]))
    if not T.accept_grinding(b"grinding", p.nonce, zk.grinding_bits):
        return False
    return _challenges(T, zk) == list(p.c)


def _recompute_first(st: NormStatement, p: NormProof, zk: ZkParams, R, ck, rel: _Relation,
                     shared, i: int):
    """W'_ct, W'_0 and v' of repetition i from its response and challenge (spec §5.3)."""
    ct_hat, t_msg_hat, t0_hat, h_hat = shared
    c = p.c[i]
    z = {b: p.z[b][i] for b in p.z}
    c_hat = _ntt_int(R, c.dense())
    c2_hat = R.mul_ntt(c_hat, c_hat)
    z_r_hat = _ntt_int(R, z["r"])
    # Masked openings of the BDLOP messages: z_x = c·t_x − <b_x, z_r>.
    zd = R.sub(R.mul_ntt(c_hat, t_msg_hat), ck.inner_ntt(zk.rows_sent, z_r_hat))
    zm_hat, zu_hat = _ntt_int(R, z["m"]), _ntt_int(R, z["u"])
    ze1_hat, ze2_hat = _ntt_int(R, z["e1"]), _ntt_int(R, z["e2"])
    za_hat = zd[zk.row_a]
    zg_hat = zd[zk.rows_g]
    p_hat = st.public_key.p_ntt
    w_ct = np.stack([
        R.sub(R.add(R.add(R.mul_ntt(p_hat[0], zu_hat), ze1_hat),
                    R.scalar_mul(zm_hat, st.params.delta)), R.mul_ntt(c_hat, ct_hat[:, 0])),
        R.sub(R.add(R.mul_ntt(p_hat[1], zu_hat), ze2_hat), R.mul_ntt(c_hat, ct_hat[:, 1])),
    ], axis=1).astype(np.uint32)  # as absorbed: the verifier's largest arrays at d = 2^20
    w0 = R.sub(ck.a0_times_ntt(z_r_hat), R.mul_ntt(c_hat, t0_hat))
    szm_hat = R.sigma_ntt(zm_hat)
    sza_hat = R.sigma_ntt(za_hat)
    quad = R.add(R.mul_ntt(szm_hat, zm_hat).sum(axis=0) % R.p, R.mul_ntt(sza_hat, za_hat))
    quad = R.sub(quad, R.scalar_mul(c2_hat, st.bound * st.bound))
    l_z = rel.linear_ntt(_blocks(zm_hat, za_hat, zu_hat, ze1_hat, ze2_hat),
                         zd[: zk.jl_polys])
    rows = zk.rows_G1_rep(i)
    t_G1_hat = R.ntt(p.t_G1[i * zk.rho: (i + 1) * zk.rho])
    bz = ck.inner_ntt(rows, z_r_hat)
    v = np.empty((zk.rho,) + c_hat.shape, dtype=np.int64)
    for j in range(zk.rho):
        acc = R.mul_ntt(c_hat, zg_hat[j])  # c·z_g
        acc = R.add(acc, R.scalar_mul(quad, rel.mu[j]))
        lin = R.sub(l_z[j], R.scalar_mul(c_hat, rel.beta[j]))
        acc = R.add(acc, R.mul_ntt(c_hat, lin))
        acc = R.sub(acc, R.mul_ntt(c2_hat, h_hat[j]))
        acc = R.sub(acc, R.mul_ntt(c_hat, t_G1_hat[j]))
        v[j] = R.add(acc, bz[j])
    return w_ct, w0, v
