"""Malicious provers: the honest prover with one of its own checks skipped at a time.

Each cheater is a `TwinProver` subclass (zk_support): the twin makes the same CSPRNG
calls as `zkflpq.zk.prove` (checked bit for bit below) but has none of `prove`'s
refusals, and every step a cheater might skip is a hook. For each skipped check the
statement is false, the cheater still emits a well-formed proof, and the verifier
rejects it; where one verifier check is the only thing standing in the way,
`unchecked_verify` (the challenge recomputation alone) accepts the same proof, so the
test fails if that check is removed from the verifier.

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
    statement_deterministic,
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
    """k = 2 chunks at N = 64 (d = 100), ‖m‖² = norm2 exactly."""
    return chunked(pk.params, vector_with_norm(np.random.default_rng(seed), 100, norm2))


def _bad_randomness_is_rejected(pk, label: str, seed: int, corrupt) -> None:
    """Encrypt an honest m with randomness `corrupt(rand)`: `prove` refuses it, and the
    proof that IgnoreAllBounds makes anyway fails only on a norm bound."""
    m = _m(pk, B * B // 4, seed)
    _, rand = encrypt_with_randomness(pk, m, _rng(f"{label}-enc"))
    bad = corrupt(rand)
    st = statement_deterministic(pk, m, bad, B)
    with pytest.raises(ProvingFailed):
        prove(st, m, bad)
    proof = IgnoreAllBounds(_rng(label)).prove(st, m, bad)
    v = verify(st, proof)
    assert not v and v.reason in {"jl_too_large", "response_too_large"}, v
    assert unchecked_verify(st, proof)


def test_twin_is_bit_identical_to_prover(keys_n64):
    """Without overrides the twin is the honest prover, so each cheater below differs
    from `prove` by exactly the hook it overrides."""
    _, pk = keys_n64
    m = _m(pk, B * B - 5, 1)
    st, rand = statement_for(pk, m, B, rng=_rng("twin-enc"))
    honest = prove(st, m, rand, _rng("twin"))
    twin = TwinProver(_rng("twin")).prove(st, m, rand)
    assert twin.to_bytes() == honest.to_bytes()
    assert verify(st, twin)


# -- the norm check (prove: ‖m‖ ≤ B) ------------------------------------------------------

class SkipNormCheck(IgnoreAllBounds):
    """‖m‖ > B: completes |B² − ‖m‖²| instead (the closest it can get) and sends h as
    computed, skipping the consistency check ct(h_r) = 0 and every bound too."""

    def completion(self, B, norm2_m, n):
        a = np.zeros(n, dtype=np.int64)
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
    wide = np.random.default_rng(6).integers(-(1 << 30), (1 << 30) + 1, size=(2, pk.params.n))

    def corrupt(rand):
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

    def completion(self, B, norm2_m, n):
        return np.zeros(n, dtype=np.int64)

    def finish_h(self, h):
        return h


class OffByOneFourSquare(SkipFourSquare):
    """A completion of B² − ‖m‖² − 1 (a bug, or a cheater rounding its way to B)."""

    def completion(self, B, norm2_m, n):
        a = np.zeros(n, dtype=np.int64)
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


# -- the proof of work on the challenge query (grinding) -----------------------------------

class SkipGrinding(TwinProver):
    """Absorbs a nonce that fails the proof of work (the first such one) instead of
    searching for one that passes; everything after it is derived consistently."""

    def grind(self, T3, zk) -> int:
        nonce = next(n for n in range(1 << 16)
                     if not T3.copy().accept_grinding(b"grinding", n, zk.grinding_bits))
        assert not T3.accept_grinding(b"grinding", nonce, zk.grinding_bits)
        return nonce


def test_skipped_grinding_is_rejected(keys_n64, monkeypatch):
    """A true statement, but without the work the parameter set's soundness counts on:
    rejected, and accepted once the verifier's proof-of-work check is removed."""
    _, pk = keys_n64
    assert zk_params_for(pk.params).grinding_bits > 0
    m = _m(pk, B * B - 7, 12)
    st, rand = statement_for(pk, m, B, rng=_rng("grind-enc"))
    proof = SkipGrinding(_rng("grind")).prove(st, m, rand)
    v = verify(st, proof)
    assert not v and v.reason == "proof_invalid", v

    from zkflpq.zk.transcript import Transcript

    real = Transcript.accept_grinding

    def any_nonce(self, label, nonce, bits):
        real(self, label, nonce, bits)  # absorb exactly as before, ignore the verdict
        return True

    monkeypatch.setattr(Transcript, "accept_grinding", any_nonce)
    assert verify(st, proof)
