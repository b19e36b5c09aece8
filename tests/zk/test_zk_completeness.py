"""Completeness (spec §9.8): honest proofs verify at ‖m‖ = B, B − 1 and well below, for d
not a multiple of N, k > 1 and several (full and partial) ciphertext groups, on every
parameter set; and the prover refuses exactly the updates it must refuse."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zk_support import chunked, norm2, statement_for, vector_with_norm

from zkflpq.bfv import Encoder
from zkflpq.ring import Csprng
from zkflpq.zk import (
    NormBoundExceeded,
    NormStatement,
    decode_proof,
    encrypt_and_prove,
    proof_context,
    prove,
    verify,
    zk_params_for,
)


def _prove_and_check(pk, m, B, seed: bytes):
    st_, rand = statement_for(pk, m, B, rng=Csprng.from_seed(seed, b"enc"))
    proof = prove(st_, m, rand, Csprng.from_seed(seed, b"prove"))
    data = proof.to_bytes()
    v = verify(st_, proof)
    assert v and v.reason is None, v
    assert verify(st_, data)
    assert decode_proof(data, st_).to_bytes() == data


@pytest.mark.parametrize("which", ["B", "B-1", "below", "zero"])
def test_completeness_loop_n64(keys_n64, which):
    """Ten random updates per norm class: N = 64, d = 150 (k = 3), random B."""
    _, pk = keys_n64
    rng = np.random.default_rng({"B": 1, "B-1": 2, "below": 3, "zero": 4}[which])
    for i in range(10):
        B = int(rng.integers(2, 1 << 24))
        target = {"B": B * B, "B-1": (B - 1) ** 2, "below": int(rng.integers(0, B * B // 100 + 1)),
                  "zero": 0}[which]
        d = int(rng.integers(129, 193))  # k = 3, never a multiple of N
        m = chunked(pk.params, vector_with_norm(rng, d, target, spread=int(rng.integers(1, 64))))
        assert norm2(m) == target and m.shape[0] == 3
        _prove_and_check(pk, m, B, b"%s-%d" % (which.encode(), i))


@given(st.data())
@settings(max_examples=8)
def test_completeness_hypothesis_n64(keys_n64, data):
    _, pk = keys_n64
    B = data.draw(st.integers(1, _largest_bound(pk, -(-300 // pk.params.n))), label="B")
    d = data.draw(st.integers(4, 300), label="d")
    slack = data.draw(st.sampled_from([0, 1, None]), label="norm = B − slack, or random")
    target = (B - slack) ** 2 if slack is not None else data.draw(st.integers(0, B * B))
    seed = data.draw(st.integers(0, 2 ** 32))
    m = chunked(pk.params, vector_with_norm(np.random.default_rng(seed), d, target))
    if np.abs(m).max() > 1 << 31:  # a coefficient outside the plaintext space
        return
    _prove_and_check(pk, m, B, seed.to_bytes(8, "little"))


@pytest.mark.parametrize("which", ["B", "B-1"])
def test_completeness_n256_two_chunks(keys_n256, which):
    _, pk = keys_n256
    B = 12345
    target = B * B if which == "B" else (B - 1) ** 2
    m = chunked(pk.params, vector_with_norm(np.random.default_rng(8), 300, target))
    _prove_and_check(pk, m, B, which.encode())


@pytest.mark.parametrize("which", ["B", "B-1"])
def test_completeness_default_one_chunk(keys_default, which):
    """Real parameter set, d = 4000 (k = 1, d not a multiple of N), ‖m‖ = B and B − 1."""
    _, pk = keys_default
    B = 1 << 24
    target = B * B if which == "B" else (B - 1) ** 2
    m = chunked(pk.params, vector_with_norm(np.random.default_rng(9), 4000, target))
    assert m.shape == (1, pk.params.n)
    _prove_and_check(pk, m, B, b"default-" + which.encode())


@pytest.mark.parametrize("keys,d,k,groups", [("keys_n64", 400, 7, 3), ("keys_n256", 1100, 5, 2)])
@pytest.mark.parametrize("which", ["B", "B-1"])
def test_completeness_several_groups(request, keys, d, k, groups, which):
    """k chunks in ⌈k/L'⌉ groups, the last one partial: (u, e2) per group, e1 per chunk."""
    _, pk = request.getfixturevalue(keys)
    B = 30000
    target = B * B if which == "B" else (B - 1) ** 2
    m = chunked(pk.params, vector_with_norm(np.random.default_rng(d), d, target, spread=100))
    assert m.shape[0] == k and pk.params.groups(k) == groups and k % pk.params.components
    _prove_and_check(pk, m, B, b"groups-%d-%s" % (d, which.encode()))


def test_completeness_tiny_bounds(keys_n64):
    _, pk = keys_n64
    for B, coeffs in ((1, [1]), (1, [-1]), (1, []), (5, [3, 4]), (2, [1, 1, 1, 1]), (7, [7])):
        m = np.zeros((1, pk.params.n), dtype=np.int64)
        m[0, : len(coeffs)] = coeffs
        _prove_and_check(pk, m, B, b"tiny%d" % B)


def _largest_bound(pk, k: int) -> int:
    """The largest B the proof accepts for k chunks (the no-wrap limit of spec §6)."""
    zk = zk_params_for(pk.params)
    lo, hi = 1, 1 << 34
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            zk.bounds(k, mid)
            lo = mid
        except ValueError:
            hi = mid
    return lo


def test_prover_refuses_b_plus_1_at_every_scale(keys_n64):
    _, pk = keys_n64
    rng = np.random.default_rng(10)
    top = _largest_bound(pk, 2)
    with pytest.raises(ValueError, match="no-wrap|bind"):
        zk_params_for(pk.params).bounds(2, top + 1)
    for B in (1, 2, 100, 123456, top - 1):
        m = chunked(pk.params, vector_with_norm(rng, 100, (B + 1) ** 2))
        st_, rand = statement_for(pk, m, B)
        with pytest.raises(NormBoundExceeded):
            prove(st_, m, rand)
        # while B + 1 works
        st_ok = NormStatement(pk.params, pk, st_.ciphertexts, B + 1, st_.context)
        assert verify(st_ok, prove(st_ok, m, rand))


def test_prover_refuses_norms_whose_int64_square_wraps(keys_n64):
    """‖m‖² beyond 2^63: np.dot(m, m) would wrap (to a negative number, or for four
    coefficients 2^31 to exactly 0), and a wrapped value ≤ B² must not let the prover
    start: it refuses with NormBoundExceeded, never reaching ProvingFailed."""
    _, pk = keys_n64
    n = pk.params.n
    top = _largest_bound(pk, 1)
    # A bound just above 2^31 (‖m‖_∞ ≤ t/2) is beyond the no-wrap limit of q ≈ 2^81:
    # such a statement cannot be built at all, so the largest sound B stands in for it.
    m = np.zeros((1, n), dtype=np.int64)
    m[0, :3] = (1 << 31) - 1
    st_, rand = statement_for(pk, m, top)
    with pytest.raises(ValueError, match="no-wrap"):
        NormStatement(pk.params, pk, st_.ciphertexts, (1 << 31) + 1, st_.context)
    wrapped = np.zeros((1, n), dtype=np.int64)
    wrapped[0, :4] = 1 << 31  # t/2, the largest plaintext coefficient
    wrapped[0, 4] = -3  # naive ‖m‖² = 4·2^62 + 9 ≡ 9 (mod 2^64)
    assert int(np.dot(wrapped[0], wrapped[0])) == 9
    for vec, B in ((m, top), (m, 1 << 20), (wrapped, 3), (wrapped, top)):
        s, r = statement_for(pk, vec, B)
        with pytest.raises(NormBoundExceeded):
            prove(s, vec, r)


def test_encrypt_and_prove_float_updates_at_the_clip_norm(keys_n64, keys_n256):
    """The float API: updates at exactly τ and well below; d not a multiple of N."""
    rng = np.random.default_rng(11)
    for (_, pk), d in ((keys_n64, 200), (keys_n256, 300)):
        for shrink in (1.0, 0.5, 0.01):
            x = rng.normal(size=d)
            tau = 3.0
            x *= shrink * tau / float(np.linalg.norm(x))
            while math.sqrt(float(np.dot(x, x))) > tau:  # rounding may overshoot τ by an ulp
                x = np.nextafter(x, 0.0)
            ctx = proof_context("v1", "agg", 5, f"client-{d}")
            ct, proof, B = encrypt_and_prove(pk, x, tau, 2.0 ** 12, ctx)
            assert B == math.floor(tau * 2 ** 12)
            assert len(ct) == -(-d // pk.params.n)
            st_ = NormStatement(pk.params, pk, ct, B, ctx)
            assert verify(st_, proof) and verify(st_, proof.to_bytes())
            assert Encoder(pk.params, 2.0 ** 12, tau).bound == B
