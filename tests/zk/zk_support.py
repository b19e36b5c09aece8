"""Test support for zkflpq.zk: statement builders and a hookable twin of the prover.

`TwinProver` is a line-by-line copy of `zkflpq.zk.protocol._prove_checked` (proof v3:
one Σ-repetition, no grinding) in which every step a malicious prover might skip or
alter is a method; the arithmetic itself is protocol's own private helpers (_Relation,
_quadratic, _first_message, _shifts, ...), so the twin cannot drift from the prover in
anything but its hooks. With no override it makes exactly the same CSPRNG calls in the
same order as the real prover, so with the same seeded Csprng it produces a
bit-identical proof (test_malicious_prover.test_twin_is_bit_identical_to_prover keeps
it honest).
Subclasses in test_malicious_prover.py and test_zk_soundness.py skip the prover's own
checks one at a time; IgnoreAllBounds, shared by both, skips every bound.
"""

from __future__ import annotations

import numpy as np

import zkflpq.zk.protocol as protocol
from zkflpq.bfv import EncryptionRandomness, encrypt_deterministic, encrypt_with_randomness
from zkflpq.bfv.scheme import Ciphertexts, ring_of
from zkflpq.ring import Csprng, discrete_gaussian, ternary, uniform_mod
from zkflpq.ring.exact import exact_products
from zkflpq.zk import NormProof, NormStatement, zk_params_for
from zkflpq.zk.challenge import Challenge
from zkflpq.zk.foursquare import four_squares
from zkflpq.zk.jl import JL_ROWS, jl_matrix_dense
from zkflpq.zk.proof import BLOCKS

CTX = b"zk-tests|aggregator-0|round-1|client-7"
FIELDS = ("t0", "t_msg", "t_G1", "h", "z_jm", "z_je", "c", "z")
Z_BLOCKS = BLOCKS  # response blocks, in encoding order


def norm2(m: np.ndarray) -> int:
    """Exact ‖m‖² with Python integers."""
    return sum(int(x) * int(x) for x in np.asarray(m).ravel())


def vector_with_norm(rng: np.random.Generator, d: int, target2: int, spread: int = 8
                     ) -> np.ndarray:
    """A random integer vector of length d (≥ 4) with ‖v‖² = target2 exactly.

    Random entries in [−spread, spread] on the first d − 4 coordinates (halved towards
    zero while they overshoot), then a four-square completion on 4 random coordinates."""
    v = np.zeros(d, dtype=np.int64)
    free = rng.permutation(d)
    fill, tail = free[:-4], free[-4:]
    v[fill] = rng.integers(-spread, spread + 1, size=fill.size)
    while norm2(v) > target2:
        v[fill] = np.fix(v[fill] / 2)  # towards zero: floor division keeps −1 at −1 forever
    v[tail] = four_squares(target2 - norm2(v))
    v[tail] *= rng.choice([-1, 1], size=4)
    assert norm2(v) == target2
    return v


def chunked(params, v: np.ndarray) -> np.ndarray:
    """Zero-pad a flat vector to k = ceil(d/N) chunks of N."""
    n = params.n
    k = -(-len(v) // n)
    out = np.zeros(k * n, dtype=np.int64)
    out[: len(v)] = v
    return out.reshape(k, n)


def statement_for(pk, m: np.ndarray, bound: int, ctx: bytes = CTX, rng: Csprng | None = None
                  ) -> tuple[NormStatement, EncryptionRandomness]:
    ct, rand = encrypt_with_randomness(pk, m, rng)
    return NormStatement(pk.params, pk, ct, bound, ctx), rand


def statement_deterministic(pk, m: np.ndarray, rand: EncryptionRandomness, bound: int,
                            ctx: bytes = CTX) -> NormStatement:
    return NormStatement(pk.params, pk, encrypt_deterministic(pk, m, rand), bound, ctx)


def encrypt_exact(pk, m: np.ndarray, rand: EncryptionRandomness) -> Ciphertexts:
    """Enc(m; u, e1, e2) for randomness of any size. encrypt_deterministic's products are
    exact only for ternary u (capacity ≈ 32·N·q/2): a cheater's u·2^20 would silently
    give ciphertexts of some other randomness. Here the engine is sized for max |u|."""
    params = pk.params
    R = ring_of(params)
    m, u, e1, e2 = (np.asarray(x, dtype=np.int64) for x in (m, rand.u, rand.e1, rand.e2))
    ep = exact_products(params.n, params.n * (params.q // 2 + 1) * max(1, int(np.abs(u).max())))
    u_hat = ep.from_int(u)
    a_hat, b_hat = ep.from_residues(pk.a, R.basis), ep.from_residues(pk.b, R.basis)
    comp = np.arange(len(m)) % params.components
    grp = np.arange(len(m)) // params.components
    bu = ep.to_residues(ep.mul(b_hat[comp], u_hat[grp]), R.basis)
    au = ep.to_residues(ep.mul(a_hat[None], u_hat), R.basis)
    c0 = R.add(R.add(bu, R.from_int(e1)), R.scalar_mul(R.from_int(m), params.delta))
    return Ciphertexts(params, c0, R.add(au, R.from_int(e2)))


def statement_exact(pk, m: np.ndarray, rand: EncryptionRandomness, bound: int,
                    ctx: bytes = CTX) -> NormStatement:
    """statement_deterministic for randomness far outside the scheme's (encrypt_exact)."""
    return NormStatement(pk.params, pk, encrypt_exact(pk, m, rand), bound, ctx)


def replace(proof: NormProof, **changes) -> NormProof:
    """A copy of `proof` with some fields replaced (arrays copied, never shared)."""
    fields = {f: getattr(proof, f) for f in ("params", "k", "bound", *FIELDS)}
    fields = {f: (v.copy() if isinstance(v, np.ndarray) else v) for f, v in fields.items()}
    fields["z"] = {b: a.copy() for b, a in proof.z.items()}
    fields.update(changes)
    return NormProof(**fields)


def z_encodable(bnds, block: str, z: np.ndarray) -> bool:
    """Whether the codec can encode response block z (Rice-coded layout)."""
    return bnds.z_fits(block, z)


def exact_jl_project(seed: bytes, label: bytes, w: np.ndarray) -> np.ndarray:
    """Π·w from the dense matrix, exact in int64 for |w| < 2^50 (any size of w)."""
    blocks, n = w.shape
    pi = jl_matrix_dense(seed, label, blocks, n)
    return pi @ np.asarray(w, dtype=np.int64).ravel()


# -- the twin prover -----------------------------------------------------------------------

class TwinProver:
    """Hookable copy of protocol._prove_checked (same RNG calls, same order)."""

    max_attempts = protocol.MAX_ATTEMPTS

    def __init__(self, rng: Csprng | None = None) -> None:
        self.rng = rng or Csprng()
        self.jl_attempts = 0
        self.sigma_attempts = 0

    # hooks: the honest behaviour ---------------------------------------------------------
    def completion(self, B: int, norm2_m: int, d: int) -> np.ndarray:
        """The four-square completion a ∈ R_d (degree d = the subring's, not N)."""
        a_poly = np.zeros(d, dtype=np.int64)
        a_poly[:4] = four_squares(B * B - norm2_m, self.rng)
        return a_poly

    def project(self, seed: bytes, label: bytes, w: np.ndarray) -> np.ndarray:
        return protocol.jl_project(seed, label, w)

    def jl_masks(self, bnds) -> tuple[np.ndarray, np.ndarray]:
        y_m = discrete_gaussian(self.rng, bnds.jl_sigma["m"], (JL_ROWS,))
        y_e = discrete_gaussian(self.rng, bnds.jl_sigma["e"], (JL_ROWS,))
        return y_m, y_e

    def jl_shift_ok(self, bnds, v_m, v_e) -> bool:
        return not (protocol._l2(v_m) > bnds.jl_shift_bounds["m"]
                    or protocol._l2(v_e) > bnds.jl_shift_bounds["e"])

    def jl_accept(self, zk, bnds, z_jm, z_je, v_m, v_e) -> bool:
        return protocol._accept(self.rng, [z_jm, z_je], [v_m, v_e],
                                [bnds.jl_sigma["m"], bnds.jl_sigma["e"]],
                                zk.repetition_rate(zk.alpha_jl))

    def jl_size_ok(self, bnds, z_jm, z_je) -> bool:
        return not (protocol._l2(z_jm) > bnds.jl_norm_bound["m"]
                    or protocol._l2(z_je) > bnds.jl_norm_bound["e"]
                    or not protocol._fits(z_jm, bnds.jl_width["m"])
                    or not protocol._fits(z_je, bnds.jl_width["e"]))

    def finish_h(self, h: np.ndarray) -> np.ndarray:
        if h[:, :, 0].any():
            raise AssertionError("honest relation has a non-zero constant term")
        return h

    def sigma_masks(self, sigma: dict, secret: dict) -> dict:
        return {b: discrete_gaussian(self.rng, sigma[b], secret[b].shape) for b in BLOCKS}

    def masks_ok(self, bnds, y: dict) -> bool:
        """The prover's witness-free resampling of a mask above ⌊MASK_INF_SIGMAS·σ_b⌋."""
        return not any(np.abs(y[b]).max() > bnds.mask_inf_bound[b] for b in BLOCKS)

    def challenge(self, T3, zk) -> Challenge:
        return protocol._challenge(T3, zk)

    def shift_ok(self, bnds, shift: dict) -> bool:
        if any(protocol._l2(shift[b]) > bnds.shift_bounds[b] * (1 + 1e-9) for b in BLOCKS):
            raise AssertionError("challenge operator-norm bound violated")
        return True

    def accept(self, zk, bnds, z: dict, shift: dict) -> bool:
        return protocol._accept(self.rng, [z[b] for b in BLOCKS], [shift[b] for b in BLOCKS],
                                [bnds.sigma[b] for b in BLOCKS], zk.repetition_rate(zk.alpha))

    def size_ok(self, bnds, z: dict) -> bool:
        return not any(protocol._l2(z[b]) > bnds.z_norm_bound[b] or not bnds.z_fits(b, z[b])
                       for b in BLOCKS)

    def emit(self, proof: NormProof) -> NormProof | None:
        """The finished proof; a cheater returning None keeps trying fresh masks."""
        return proof

    # the protocol ----------------------------------------------------------------------
    def prove(self, st: NormStatement, m: np.ndarray, rand: EncryptionRandomness) -> NormProof:
        """Like protocol.prove minus all of its refusals (norm, witness, noise checks)."""
        ctx = protocol._Ctx.of(st)
        m = np.asarray(m, dtype=np.int64)
        secret = {"m": m, "e1": np.asarray(rand.e1, np.int64),
                  "u": np.asarray(rand.u, np.int64), "e2": np.asarray(rand.e2, np.int64)}
        return self._prove(st, ctx, secret, norm2(m))

    def _prove(self, st, ctx, secret, norm2_m) -> NormProof:
        zk, bnds, RS, ES, ck = ctx.zk, ctx.bnds, ctx.RS, ctx.ES, ctx.ck
        rng = self.rng
        k, d, B, rho = st.k, zk.d, st.bound, zk.rho
        a_poly = self.completion(B, norm2_m, d)
        m_views, e_views = protocol._short_views(ctx, secret)
        w_m = np.concatenate([m_views, a_poly[None]])
        T1 = protocol._statement_transcript(st)

        for _ in range(self.max_attempts):
            self.jl_attempts += 1
            r = ternary(rng, (zk.ell, d))
            r_hat = ES.from_int(r)
            y_m, y_e = self.jl_masks(bnds)
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
            v_m = self.project(seed_jl, b"m", w_m)
            v_e = self.project(seed_jl, b"e", e_views)
            if not self.jl_shift_ok(bnds, v_m, v_e):
                continue
            z_jm, z_je = y_m + v_m, y_e + v_e
            if not self.jl_accept(zk, bnds, z_jm, z_je, v_m, v_e):
                continue
            if not self.jl_size_ok(bnds, z_jm, z_je):
                continue
            break
        else:
            raise protocol.ProvingFailed("twin: JL rejection sampling did not terminate")
        T2.absorb_array(b"z-jm", z_jm)
        T2.absorb_array(b"z-je", z_je)

        rel = protocol._Relation(ctx, k, T2, seed_jl, z_jm, z_je)
        mv_hat = ES.from_int(m_views)
        s_short_hat = np.concatenate([mv_hat, ES.from_int(e_views)])
        a_res, jl_res = RS.from_int(a_poly), RS.from_int(jl_polys)
        quad = protocol._quadratic(ctx, mv_hat, mv_hat, a_res, a_res)
        lin = rel.linear(s_short_hat, a_res, jl_res)
        h = np.empty((rho, len(zk.bfv.primes), d), dtype=np.int64)
        for i in range(rho):
            f = RS.add(RS.scalar_mul(quad, rel.mu[i]), lin[i])
            h[i] = RS.add(RS.add(f, g[i]), RS.constant(-(rel.mu[i] * B * B + rel.beta[i])))
        h = self.finish_h(h)
        T2.absorb_residues(b"h", h)

        sigma = bnds.sigma
        secret = dict(secret, r=r)
        for _ in range(self.max_attempts):
            self.sigma_attempts += 1
            y = self.sigma_masks(sigma, secret)
            if not self.masks_ok(bnds, y):
                continue
            T3 = T2.copy()
            t_G1, w_c0, w_c1, w0, v = protocol._first_message(st, ctx, rel, y, r_hat, mv_hat,
                                                              a_res)
            protocol._absorb_first_message(T3, t_G1, w_c0, w_c1, w0, v)
            c = self.challenge(T3, zk)
            shift = protocol._shifts(zk, c, secret)
            if not self.shift_ok(bnds, shift):
                continue
            z = {b: y[b] + shift[b] for b in BLOCKS}
            if not self.accept(zk, bnds, z, shift):
                continue
            if not self.size_ok(bnds, z):
                continue
            self.last_masks = y
            proof = self.emit(NormProof(st.params, k, B, t0, t_msg, t_G1, h, z_jm, z_je, c, z))
            if proof is not None:
                return proof
        raise protocol.ProvingFailed("twin: rejection sampling did not terminate")


class IgnoreAllBounds(TwinProver):
    """Proves whatever witness it is given: no restarts and no size checks anywhere, and
    zero JL masks (the smallest ‖z_j‖ a cheater can send)."""

    def jl_masks(self, bnds):
        return np.zeros(JL_ROWS, dtype=np.int64), np.zeros(JL_ROWS, dtype=np.int64)

    def jl_shift_ok(self, *args):
        return True

    def jl_accept(self, *args):
        return True

    def jl_size_ok(self, *args):
        return True

    def masks_ok(self, *args):
        return True

    def shift_ok(self, *args):
        return True

    def accept(self, *args):
        return True

    def size_ok(self, *args):
        return True


def unchecked_verify(st: NormStatement, proof: NormProof) -> bool:
    """Only the verifier's challenge recomputation, none of the cheap ones."""
    return protocol._challenge_recomputes(st, proof, protocol._Ctx.of(st))


def sigma_normalised(proof: NormProof) -> dict[str, np.ndarray]:
    """Coefficients of every response block divided by its mask width σ_b."""
    zk = zk_params_for(proof.params)
    bnds = zk.bounds(proof.k, proof.bound)
    out = {b: proof.z[b].ravel() / bnds.sigma[b] for b in Z_BLOCKS}
    out["jm"] = proof.z_jm / bnds.jl_sigma["m"]
    out["je"] = proof.z_je / bnds.jl_sigma["e"]
    return out
