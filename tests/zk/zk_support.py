"""Test support for zkflpq.zk: statement builders and a hookable twin of the prover.

`TwinProver` is a line-by-line copy of `zkflpq.zk.protocol._prove_checked` in which
every step a malicious prover might skip or alter is a method. With no override it
makes exactly the same CSPRNG calls in the same order as the real prover, so with
the same seeded Csprng it produces a bit-identical proof
(test_malicious_prover.test_twin_is_bit_identical_to_prover keeps it honest).
Subclasses in test_malicious_prover.py and test_zk_soundness.py skip the prover's own
checks one at a time; IgnoreAllBounds, shared by both, skips every bound.
"""

from __future__ import annotations

import numpy as np

import zkflpq.zk.protocol as protocol
from zkflpq.bfv import EncryptionRandomness, encrypt_deterministic, encrypt_with_randomness
from zkflpq.bfv.scheme import ring_of
from zkflpq.ring import Csprng, discrete_gaussian, sigma_int, ternary, uniform_mod
from zkflpq.ring.poly import mul_sparse_ternary_int
from zkflpq.zk import NormProof, NormStatement, zk_params_for
from zkflpq.zk.bdlop import commitment_key
from zkflpq.zk.challenge import Challenge
from zkflpq.zk.foursquare import four_squares
from zkflpq.zk.jl import JL_ROWS, jl_matrix_dense

CTX = b"zk-tests|aggregator-0|round-1|client-7"
FIELDS = ("t0", "t_msg", "t_G1", "h", "z_jm", "z_je", "c", "z", "nonce")
Z_BLOCKS = ("u", "e1", "e2", "m", "r")


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


def replace(proof: NormProof, **changes) -> NormProof:
    """A copy of `proof` with some fields replaced (arrays copied, never shared)."""
    fields = {f: getattr(proof, f) for f in ("params", "k", "bound", *FIELDS)}
    fields = {f: (v.copy() if isinstance(v, np.ndarray) else v) for f, v in fields.items()}
    fields["z"] = {b: a.copy() for b, a in proof.z.items()}
    fields.update(changes)
    return NormProof(**fields)


def z_encodable(bnds, block: str, z: np.ndarray) -> bool:
    """Whether the codec can encode response block z (fixed-width or Rice-coded layout)."""
    if hasattr(bnds, "z_fits"):
        return bnds.z_fits(block, z)
    return protocol._fits(z, bnds.z_width[block])


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
    def completion(self, B: int, norm2_m: int, n: int) -> np.ndarray:
        a_poly = np.zeros(n, dtype=np.int64)
        a_poly[:4] = four_squares(B * B - norm2_m)
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
        return {b: discrete_gaussian(self.rng, sigma[b], secret[b].shape) for b in secret}

    def shift_ok(self, bnds, shift: dict) -> bool:
        if any(protocol._l2(shift[b]) > bnds.shift_bounds[b] * (1 + 1e-9) for b in shift):
            raise AssertionError("challenge operator-norm bound violated")
        return True

    def accept(self, zk, bnds, z: dict, shifts: list[dict]) -> bool:
        return protocol._accept(self.rng, [z[b][i] for b in z for i in range(zk.reps)],
                                [sh[b] for b in z for sh in shifts],
                                [bnds.sigma[b] for b in z for _ in shifts],
                                zk.repetition_rate(zk.alpha))

    def size_ok(self, bnds, z: dict) -> bool:
        return not any(protocol._l2(z[b]) > bnds.z_norm_bound[b] or not z_encodable(bnds, b, z[b])
                       for b in z)

    def grind(self, T3, zk) -> int:
        return T3.grind(b"grinding", zk.grinding_bits)

    def challenges(self, T3, zk) -> list[Challenge]:
        return protocol._challenges(T3, zk)

    # the protocol ----------------------------------------------------------------------
    def prove(self, st: NormStatement, m: np.ndarray, rand: EncryptionRandomness) -> NormProof:
        """Like protocol.prove minus all of its refusals (norm, witness, noise checks)."""
        zk = zk_params_for(st.params)
        bnds = zk.bounds(st.k, st.bound)
        R = ring_of(st.params)
        ck = commitment_key(zk)
        m = np.asarray(m, dtype=np.int64)
        u, e1, e2 = (np.asarray(x, dtype=np.int64) for x in (rand.u, rand.e1, rand.e2))
        return self._prove(st, zk, bnds, R, ck, m, norm2(m), u, e1, e2)

    def _prove(self, st, zk, bnds, R, ck, m, norm2_m, u, e1, e2) -> NormProof:
        rng = self.rng
        k, n, B = st.k, zk.n, st.bound
        rho = zk.rho
        _ntt_int = protocol._ntt_int
        a_poly = self.completion(B, norm2_m, n)

        m_hat, u_hat, e1_hat, e2_hat = (_ntt_int(R, x) for x in (m, u, e1, e2))
        a_hat = _ntt_int(R, a_poly)
        sm_hat = _ntt_int(R, sigma_int(m))
        sa_hat = _ntt_int(R, sigma_int(a_poly))
        q_hat = R.add(R.mul_ntt(sm_hat, m_hat).sum(axis=0) % R.p, R.mul_ntt(sa_hat, a_hat))
        w_m = np.concatenate([m, a_poly[None]])
        w_e = np.concatenate([u, e1, e2])
        T1 = protocol._statement_transcript(st)

        for _ in range(self.max_attempts):
            self.jl_attempts += 1
            r = ternary(rng, (zk.ell, n))
            r_hat = _ntt_int(R, r)
            y_m, y_e = self.jl_masks(bnds)
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
            v_m = self.project(seed_jl, b"m", w_m)
            v_e = self.project(seed_jl, b"e", w_e)
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

        rel = protocol._Relation(zk, k, T2, seed_jl, z_jm, z_je)
        s_blocks = protocol._blocks(m_hat, a_hat, u_hat, e1_hat, e2_hat)
        jl_hat = _ntt_int(R, jl_polys)
        l_s = rel.linear_ntt(s_blocks, jl_hat)
        h = np.empty((rho,) + q_hat.shape, dtype=np.int64)
        for i in range(rho):
            f_hat = R.add(R.scalar_mul(q_hat, rel.mu[i]), l_s[i])
            const = R.constant(-(rel.mu[i] * B * B + rel.beta[i]))
            h[i] = R.add(R.add(R.intt(f_hat), g[i]), const)
        h = self.finish_h(h)
        T2.absorb_residues(b"h", h)

        secret = {"u": u, "e1": e1, "e2": e2, "m": m, "r": r}
        quad = (m_hat, sm_hat, a_hat, sa_hat)
        for _ in range(self.max_attempts):
            self.sigma_attempts += 1
            T3 = T2.copy()
            ys, firsts = [], []
            for i in range(zk.reps):
                y = self.sigma_masks(bnds.sigma, secret)
                ys.append(y)
                firsts.append(protocol._mask_message(st, zk, R, ck, rel, quad, r_hat, y, i))
            T3.absorb_residues(b"t-G1", np.concatenate([f[0] for f in firsts]))
            T3.absorb_residues_stacked(b"W-ct", [f[1] for f in firsts])
            T3.absorb_residues(b"W0", np.stack([f[2] for f in firsts]))
            T3.absorb_residues(b"v", np.stack([f[3] for f in firsts]))
            nonce = self.grind(T3, zk)
            cs = self.challenges(T3, zk)
            shifts = [{b: mul_sparse_ternary_int(secret[b], c.positions, c.coefficients)
                       for b in secret} for c in cs]
            if not all(self.shift_ok(bnds, sh) for sh in shifts):
                continue
            z = {b: np.stack([y[b] + sh[b] for y, sh in zip(ys, shifts, strict=True)])
                 for b in secret}
            if not self.accept(zk, bnds, z, shifts):
                continue
            if not self.size_ok(bnds, z):
                continue
            self.last_masks = {b: np.stack([y[b] for y in ys]) for b in secret}
            t_G1 = np.concatenate([f[0] for f in firsts])
            return NormProof(st.params, k, B, t0, t_msg[:], t_G1, h, z_jm, z_je, tuple(cs), z,
                             nonce)
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

    def shift_ok(self, *args):
        return True

    def accept(self, *args):
        return True

    def size_ok(self, *args):
        return True


def unchecked_verify(st: NormStatement, proof: NormProof) -> bool:
    """Only the expensive check (challenge recomputation), none of the cheap ones."""
    return protocol._challenge_recomputes(st, proof, zk_params_for(st.params))


def sigma_normalised(proof: NormProof) -> dict[str, np.ndarray]:
    """Coefficients of every response block divided by its mask width σ_b."""
    zk = zk_params_for(proof.params)
    bnds = zk.bounds(proof.k, proof.bound)
    out = {b: proof.z[b].ravel() / bnds.sigma[b] for b in Z_BLOCKS}
    out["jm"] = proof.z_jm / bnds.jl_sigma["m"]
    out["je"] = proof.z_je / bnds.jl_sigma["e"]
    return out

