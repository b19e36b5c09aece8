"""Malicious provers: the honest prover with one of its own checks skipped at a time.

Each cheater is a `TwinProver` subclass (zk_support): the twin makes the same CSPRNG
calls as `zkflpq.zk.prove` (checked bit for bit below) but has none of `prove`'s
refusals, and every step a cheater might skip is a hook. For each skipped check the
statement is false, the cheater still emits a well-formed proof, and the verifier
rejects it; where one verifier check is the only thing standing in the way,
`unchecked_verify` (the challenge recomputation alone) accepts the same proof, so the
test fails if that check is removed from the verifier.

A cheater's only other freedom in v3 (one Σ-repetition, no proof of work) is to retry
the first message for fresh challenges; the last test shows that this does not help.

Checks that protect only zero knowledge (sampling the masks, rejection sampling on a
true statement) cannot be enforced by any verifier; skipping them gives a proof of a
true statement that the verifier rightly accepts, and the statistical test in
test_zk_zero_knowledge.py is what notices the leak.
"""

from __future__ import annotations

import numpy as np
import pytest
from zk_support import (
    IgnoreAllBounds,
    TwinProver,
    chunked,
    statement_exact,
    statement_for,
    unchecked_verify,
    vector_with_norm,
)

from zkflpq.bfv import EncryptionRandomness, encrypt_with_randomness
from zkflpq.ring import Csprng
from zkflpq.zk import NormBoundExceeded, ProvingFailed, prove, verify, zk_params_for
from zkflpq.zk.foursquare import four_squares

B = 400


def _rng(label: str) -> Csprng:
    return Csprng.from_seed(b"malicious-prover", label.encode())


def _m(pk, norm2: int, seed: int) -> np.ndarray:
    """100 coefficients, ‖m‖² = norm2 exactly: k = 2 chunks (one group) at N = 64."""
    return chunked(pk.params, vector_with_norm(np.random.default_rng(seed), 100, norm2))


def _bad_randomness_is_rejected(pk, label: str, seed: int, corrupt) -> None:
    """Encrypt an honest m with randomness `corrupt(rand)` (exactly, whatever its size):
    `prove` refuses it, and the proof that IgnoreAllBounds makes anyway fails only on a
    norm bound."""
    m = _m(pk, B * B // 4, seed)
    _, rand = encrypt_with_randomness(pk, m, _rng(f"{label}-enc"))
    bad = corrupt(rand)
    st = statement_exact(pk, m, bad, B)
    with pytest.raises(ProvingFailed):
        prove(st, m, bad)
    proof = IgnoreAllBounds(_rng(label)).prove(st, m, bad)
    v = verify(st, proof)
    assert not v and v.reason in {"jl_too_large", "response_too_large"}, v
    assert unchecked_verify(st, proof)


@pytest.mark.parametrize("keys", ["keys_n64", "keys_n256"])
def test_twin_is_bit_identical_to_prover(request, keys):
    """Without overrides the twin is the honest prover, so each cheater below differs
    from `prove` by exactly the hook it overrides (N = 64: one subring view per chunk;
    N = 256: four). Several seeds, so that both rejection loops restart at least once."""
    _, pk = request.getfixturevalue(keys)
    m = _m(pk, B * B - 5, 1)
    st, rand = statement_for(pk, m, B, rng=_rng("twin-enc"))
    restarts = {"jl": 0, "sigma": 0}
    for i in range(16):
        honest = prove(st, m, rand, _rng(f"twin-{i}"))
        twin = TwinProver(_rng(f"twin-{i}"))
        proof = twin.prove(st, m, rand)
        assert proof.to_bytes() == honest.to_bytes(), i
        restarts["jl"] += twin.jl_attempts - 1
        restarts["sigma"] += twin.sigma_attempts - 1
    assert restarts["jl"] > 0 and restarts["sigma"] > 0, restarts
    assert verify(st, proof)


# -- the norm check (prove: ‖m‖ ≤ B) ------------------------------------------------------

class SkipNormCheck(IgnoreAllBounds):
    """‖m‖ > B: completes |B² − ‖m‖²| instead (the closest it can get) and sends h as
    computed, skipping the consistency check ct(h_r) = 0 and every bound too."""

    def completion(self, B, norm2_m, d):
        a = np.zeros(d, dtype=np.int64)
        a[:4] = four_squares(abs(B * B - norm2_m))
        return a

    def finish_h(self, h):
        return h


@pytest.mark.parametrize("excess", [1, 2 * B])
def test_skipped_norm_check_is_rejected(keys_n64, excess):
    _, pk = keys_n64
    m = _m(pk, (B + excess) ** 2, 2)
    st, rand = statement_for(pk, m, B, rng=_rng("norm-enc"))
    with pytest.raises(NormBoundExceeded):
        prove(st, m, rand)
    proof = SkipNormCheck(_rng(f"norm-{excess}")).prove(st, m, rand)
    v = verify(st, proof)
    assert not v and v.reason == "relation_nonzero", v
    assert unchecked_verify(st, proof)
    assert verify(st, proof.to_bytes()).reason == "relation_nonzero"


# -- the witness check (prove: the ciphertexts open to (m; u, e1, e2)) -------------------

def test_skipped_witness_check_is_rejected(keys_n64):
    """The ciphertexts encrypt m_big (‖m_big‖ = 3B); the cheater proves a short m' with
    the same encryption randomness, as if it were their plaintext."""
    _, pk = keys_n64
    m_big, m_short = _m(pk, 9 * B * B, 3), _m(pk, B * B, 4)
    st, rand = statement_for(pk, m_big, B, rng=_rng("witness-enc"))
    with pytest.raises(NormBoundExceeded):
        prove(st, m_big, rand)
    with pytest.raises(ValueError, match="witness"):
        prove(st, m_short, rand)
    proof = TwinProver(_rng("witness")).prove(st, m_short, rand)
    v = verify(st, proof)
    assert not v and v.reason == "proof_invalid", v


# -- the noise check and noise sampling (prove: ‖u‖, ‖e1‖, ‖e2‖ within the public bound) --

@pytest.mark.parametrize("block", ["e1", "e2"])
def test_unsampled_noise_is_rejected(keys_n64, block):
    """Encryption noise not drawn from the scheme's error distribution but uniform in
    ±2^30 (a client that wants its update to drown the others): refused by `prove`,
    rejected by the verifier's JL bound when the cheater proves it anyway."""
    _, pk = keys_n64

    def corrupt(rand):
        shape = getattr(rand, block).shape  # e1 per chunk (k, N), e2 per group (g, N)
        wide = np.random.default_rng(6).integers(-(1 << 30), (1 << 30) + 1, size=shape)
        parts = {"u": rand.u, "e1": rand.e1, "e2": rand.e2, block: wide}
        return EncryptionRandomness(**parts)

    _bad_randomness_is_rejected(pk, f"noise-{block}", 5, corrupt)


def test_non_ternary_u_is_rejected(keys_n64):
    """u outside {−1, 0, 1} (the check `prove` makes first) with every bound ignored."""
    _, pk = keys_n64
    _bad_randomness_is_rejected(pk, "u", 7, lambda r: EncryptionRandomness(
        r.u * (1 << 20), r.e1, r.e2))


# -- the four-square completion (a with ‖m‖² + ‖a‖² = B²) ---------------------------------

class SkipFourSquare(TwinProver):
    """‖m‖ < B but no completion: a = 0, h sent as computed."""

    def completion(self, B, norm2_m, d):
        return np.zeros(d, dtype=np.int64)

    def finish_h(self, h):
        return h


class OffByOneFourSquare(SkipFourSquare):
    """A completion of B² − ‖m‖² − 1 (a bug, or a cheater rounding its way to B)."""

    def completion(self, B, norm2_m, d):
        a = np.zeros(d, dtype=np.int64)
        a[:4] = four_squares(B * B - norm2_m - 1)
        return a


@pytest.mark.parametrize("cheater", [SkipFourSquare, OffByOneFourSquare])
def test_skipped_four_square_is_rejected(keys_n64, cheater):
    _, pk = keys_n64
    m = _m(pk, B * B - 1000, 8)
    st, rand = statement_for(pk, m, B, rng=_rng("4sq-enc"))
    proof = cheater(_rng(cheater.__name__)).prove(st, m, rand)
    assert proof.h[:, :, 0].any()
    v = verify(st, proof)
    assert not v and v.reason == "relation_nonzero", v
    assert unchecked_verify(st, proof)


class FourSquareWithZeroedH(SkipFourSquare):
    """…and hides the non-zero constant terms of h (then h ≠ F(s))."""

    def finish_h(self, h):
        h = h.copy()
        h[:, :, 0] = 0
        return h


def test_skipped_four_square_with_zeroed_h_is_rejected(keys_n64):
    _, pk = keys_n64
    m = _m(pk, B * B - 1000, 9)
    st, rand = statement_for(pk, m, B, rng=_rng("4sq0-enc"))
    proof = FourSquareWithZeroedH(_rng("4sq0")).prove(st, m, rand)
    v = verify(st, proof)
    assert not v and v.reason == "proof_invalid", v


# -- rejection sampling and the response-size checks ---------------------------------------

def test_skipped_rejection_with_large_shift_is_rejected(keys_n64):
    """Noise 2^16 × the honest one (beyond the ≈ 2^14 slack of the proven noise bound):
    c·e is far beyond what the masks hide. The honest prover would restart forever; the
    cheater skips rejection and the size checks and sends z anyway."""
    _, pk = keys_n64
    _bad_randomness_is_rejected(pk, "rej", 10, lambda r: EncryptionRandomness(
        r.u, r.e1 * (1 << 16), r.e2))


def test_skipped_rejection_on_true_statement_still_verifies(keys_n64):
    """Soundness does not depend on rejection sampling: for a true statement the
    cheater's proof is accepted (its only harm is to the prover's own privacy)."""
    _, pk = keys_n64
    m = _m(pk, B * B, 11)
    st, rand = statement_for(pk, m, B, rng=_rng("rej-true-enc"))
    proof = IgnoreAllBounds(_rng("rej-true")).prove(st, m, rand)
    assert verify(st, proof)
    bnds = zk_params_for(pk.params).bounds(st.k, B)
    assert all(np.linalg.norm(proof.z[b]) <= bnds.z_norm_bound[b] for b in proof.z)


# -- many first messages (what grinding used to price; v3 has one repetition, no nonce) -----

class ManyFirstMessages(SkipNormCheck):
    """‖m‖ > B with the constant terms of h zeroed (so ct(h_r) = 0 passes), then a fresh
    Σ first message per try: each new mask set gives a new challenge, and the cheater
    keeps every well-formed proof, hoping that one lands where its false h verifies."""

    tries = 64

    def __init__(self, rng):
        super().__init__(rng)
        self.proofs = []

    def finish_h(self, h):
        h = h.copy()
        h[:, :, 0] = 0
        return h

    def emit(self, proof):
        self.proofs.append(proof)
        return proof if len(self.proofs) == self.tries else None


def test_many_first_messages_for_a_false_statement_are_all_rejected(keys_n64):
    """v3 drops the proof of work: one repetition over a challenge space with invertible
    differences (2^132 for DEFAULT, still 2^46 for this INSECURE set) is sound on its
    own, so retrying the first message must not help. 64 fresh masks for ‖m‖ = B + 1:
    64 distinct challenges, and every proof passes all the cheap checks ("proof_invalid"
    comes last) and fails only the challenge recomputation."""
    _, pk = keys_n64
    m = _m(pk, (B + 1) ** 2, 12)
    st, rand = statement_for(pk, m, B, rng=_rng("tries-enc"))
    with pytest.raises(NormBoundExceeded):
        prove(st, m, rand)
    cheat = ManyFirstMessages(_rng("tries"))
    cheat.prove(st, m, rand)
    assert len(cheat.proofs) == ManyFirstMessages.tries
    assert len({p.c.encode() for p in cheat.proofs}) == ManyFirstMessages.tries
    assert all(not p.h[:, :, 0].any() for p in cheat.proofs)
    verdicts = [verify(st, p) for p in cheat.proofs]
    assert [v.reason for v in verdicts] == ["proof_invalid"] * ManyFirstMessages.tries
