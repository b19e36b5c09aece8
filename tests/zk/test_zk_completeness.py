"""Completeness (spec §9.8): honest proofs verify at ‖m‖ = B, B − 1 and well below, for d
not a multiple of N and k > 1, on every parameter set; and the prover refuses exactly
the updates it must refuse."""

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


def test_completeness_default_norm_exactly_b(keys_default):
    """Real parameter set, d = 4100 (k = 2, d not a multiple of N), ‖m‖ = B exactly."""
    _, pk = keys_default
    B = 1 << 24
    m = chunked(pk.params, vector_with_norm(np.random.default_rng(9), 4100, B * B))
    _prove_and_check(pk, m, B, b"default")


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
    with pytest.raises(ValueError, match="no-wrap"):
        zk_params_for(pk.params).bounds(2, top + 1)
    for B in (1, 2, 100, 123456, top - 1):
        m = chunked(pk.params, vector_with_norm(rng, 100, (B + 1) ** 2))
        st_, rand = statement_for(pk, m, B)
        with pytest.raises(NormBoundExceeded):
            prove(st_, m, rand)
        # while B + 1 works
        st_ok = NormStatement(pk.params, pk, st_.ciphertexts, B + 1, st_.context)
        assert verify(st_ok, prove(st_ok, m, rand))


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
