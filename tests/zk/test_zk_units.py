"""Unit tests of the proof's building blocks: transcript, challenges, four squares, JL,
parameters, and the encrypt-and-prove entry point."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zkflpq.zk.api as api
from zkflpq.bfv import DEFAULT, INSECURE_N64, INSECURE_N256
from zkflpq.ring import Csprng, sigma_int
from zkflpq.zk import NormBoundExceeded, encrypt_and_prove, proof_context, verify, zk_params_for
from zkflpq.zk.challenge import (
    Challenge,
    challenge_space_bits,
    challenge_weight,
    sample_challenge,
)
from zkflpq.zk.foursquare import four_squares, two_squares_prime
from zkflpq.zk.jl import JL_ROWS, jl_combine, jl_matrix_dense, jl_project
from zkflpq.zk.transcript import Transcript

# -- transcript ---------------------------------------------------------------------------


def _out(*absorbs: tuple[bytes, bytes], label: bytes = b"x") -> bytes:
    T = Transcript(b"proto")
    for lab, data in absorbs:
        T.absorb(lab, data)
    return T.squeeze(label, 32)


def test_transcript_label_and_length_separation():
    base = _out((b"a", b"bc"))
    assert base == _out((b"a", b"bc"))  # deterministic
    assert base != _out((b"ab", b"c"))  # label/data boundary
    assert base != _out((b"a", b"b"), (b"", b"c"))
    assert base != _out((b"a", b"bc"), (b"", b""))  # an empty absorb still counts
    assert _out((b"a", b"b"), (b"a", b"c")) != _out((b"a", b"bc"))
    assert _out((b"a", b"b"), (b"c", b"d")) != _out((b"c", b"d"), (b"a", b"b"))  # order
    assert Transcript(b"p1").squeeze(b"x", 32) != Transcript(b"p2").squeeze(b"x", 32)


def test_transcript_squeeze_domain_separation():
    T = Transcript(b"proto")
    T.absorb(b"a", b"data")
    c = T.copy()
    x1, y1 = T.squeeze(b"x", 32), c.squeeze(b"y", 32)
    assert x1 != y1  # different labels, same state
    assert T.squeeze(b"x", 32) != x1  # a squeeze is absorbed: the next one differs
    d = Transcript(b"proto")
    d.absorb(b"a", b"data")
    # Outputs of one label are prefixes of each other (the protocol always squeezes a
    # label at one fixed length), but the length is absorbed afterwards:
    e = d.copy()
    assert d.squeeze(b"x", 64)[:32] == x1
    e.squeeze(b"x", 32)
    assert d.squeeze(b"z", 16) != e.squeeze(b"z", 16)
    # and a copy is independent of its original
    g = Transcript(b"proto")
    h = g.copy()
    g.absorb(b"a", b"1")
    assert g.squeeze(b"x", 8) != h.squeeze(b"x", 8)


def test_transcript_absorb_array_binds_shape_and_values():
    a = np.arange(12, dtype=np.int64)

    def out(arr):
        T = Transcript(b"p")
        T.absorb_array(b"arr", arr)
        return T.squeeze(b"x", 32)

    assert out(a) == out(a.astype(np.int32))  # canonical int64 encoding
    assert out(a.reshape(3, 4)) != out(a.reshape(4, 3)) != out(a)
    b = a.copy()
    b[5] += 1
    assert out(a) != out(b)


def test_transcript_array_absorbs_are_the_documented_byte_frames():
    """absorb_array / absorb_residues stream exactly absorb(label, shape ‖ values): u64
    shape words, then little-endian int64 (arrays) or uint32 (residues)."""
    a = np.arange(24, dtype=np.int64).reshape(2, 3, 4) * 1000
    for method, dtype in (("absorb_array", "<i8"), ("absorb_residues", "<u4")):
        for arr in (a, a[:0]):
            fast, framed = Transcript(b"p"), Transcript(b"p")
            getattr(fast, method)(b"lab", arr)
            shape = b"".join(int(x).to_bytes(8, "little") for x in arr.shape)
            framed.absorb(b"lab", shape + arr.astype(dtype).tobytes())
            assert fast.squeeze(b"x", 32) == framed.squeeze(b"x", 32)


@pytest.mark.parametrize("bits", [0, 1, 4, 9])
def test_grind_finds_the_first_nonce_accept_grinding_takes(bits):
    """Naive twin: try accept_grinding on copies for nonce = 0, 1, 2, … The fast search
    must return the same nonce and leave the transcript in the same state."""
    t = Transcript(b"grind-test")
    t.absorb(b"x", b"statement")
    naive = t.copy()
    first = next(n for n in range(1 << 16)
                 if naive.copy().accept_grinding(b"grinding", n, bits))
    assert naive.accept_grinding(b"grinding", first, bits)
    fast = t.copy()
    assert fast.grind(b"grinding", bits) == first
    assert fast.squeeze(b"after", 32) == naive.squeeze(b"after", 32)
    if bits == 0:
        assert first == 0


def test_grinding_costs_about_2_to_the_bits_and_binds_the_transcript():
    nonces = []
    for i in range(64):
        t = Transcript(b"grind-cost")
        t.absorb(b"i", i.to_bytes(4, "little"))
        nonces.append(t.grind(b"grinding", 6))
    # geometric with mean 2^6: the sample mean of 64 draws lies in (16, 256) except w.p. < 1e-6
    assert 16 < np.mean(nonces) + 1 < 256
    t = Transcript(b"grind-cost")
    t.absorb(b"i", (0).to_bytes(4, "little"))
    other = Transcript(b"grind-cost")
    other.absorb(b"i", (1).to_bytes(4, "little"))
    n0 = t.copy().grind(b"grinding", 12)
    assert t.accept_grinding(b"grinding", n0, 12)
    # the same nonce is worthless for another transcript (fixed inputs: deterministic)
    assert not other.copy().accept_grinding(b"grinding", n0, 12)
    with pytest.raises(ValueError):
        Transcript(b"x").accept_grinding(b"grinding", 1 << 64, 4)


# -- challenges ---------------------------------------------------------------------------

@pytest.mark.parametrize("params", [INSECURE_N64, INSECURE_N256, DEFAULT], ids=lambda p: p.name)
def test_sample_challenge_sigma_invariant_weight_deterministic(params):
    n = params.n
    w = zk_params_for(params).challenge_weight
    seen = set()
    for i in range(20):
        seed = hashlib.sha256(b"seed%d" % i).digest()
        c = sample_challenge(seed, n, w)
        assert c == sample_challenge(seed, n, w)  # deterministic
        dense = c.dense()
        assert np.array_equal(sigma_int(dense), dense)  # σ(c) = c
        assert dense[0] == 0 and dense[n // 2] == 0
        assert np.count_nonzero(dense) == 2 * w and np.abs(dense).sum() == 2 * w
        assert set(np.unique(dense)) <= {-1, 0, 1}
        assert len(c.pairs) == w and all(1 <= i < n // 2 for i in c.pairs)
        assert Challenge.decode(c.encode(), n, w) == c
        seen.add(c.encode())
    assert len(seen) == 20


def test_challenge_signs_are_balanced():
    n, w = DEFAULT.n, zk_params_for(DEFAULT).challenge_weight
    signs = [s for i in range(200) for s in sample_challenge(bytes([i]) * 32, n, w).signs]
    frac = signs.count(-1) / len(signs)
    assert abs(frac - 0.5) < 0.1


def test_challenge_space_default_at_least_2_128():
    w = challenge_weight(4096)
    assert challenge_space_bits(4096, w) >= 128
    assert challenge_space_bits(4096, w - 1) < 128  # smallest such weight
    assert zk_params_for(DEFAULT).challenge_weight == w
    assert zk_params_for(DEFAULT).challenge_bits >= 128
    # exact count binom(N/2 − 1, w)·2^w
    assert math.comb(2047, w) * 2 ** w >= 2 ** 128


@pytest.mark.parametrize("bad", [
    dict(pairs=(2, 1), signs=(1, 1)),  # unsorted
    dict(pairs=(1, 1), signs=(1, 1)),  # duplicate
    dict(pairs=(0, 1), signs=(1, 1)),  # index 0
    dict(pairs=(1, 32), signs=(1, 1)),  # index N/2
    dict(pairs=(1, 40), signs=(1, 1)),  # index > N/2
    dict(pairs=(1, 2), signs=(1, 0)),  # sign 0
    dict(pairs=(1, 2), signs=(1,)),  # lengths differ
    dict(pairs=(), signs=()),
])
def test_challenge_constructor_rejects_non_members(bad):
    from zkflpq.zk import ProofDecodeError
    with pytest.raises(ProofDecodeError):
        Challenge(64, **bad)


# -- four squares ------------------------------------------------------------------------

@given(st.integers(0, 2 ** 40))
@settings(max_examples=60)
def test_four_squares(n):
    a = four_squares(n)
    assert len(a) == 4 and sum(x * x for x in a) == n


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 7, 8, 15, 16, 63, 64, 128, 4 ** 10, 4 ** 10 * 7,
                               2 ** 68 - 1, INSECURE_N64.q - 2 ** 35 + 1])
def test_four_squares_edge_cases(n):
    assert sum(x * x for x in four_squares(n)) == n


def test_four_squares_rejects_negative_and_two_squares_prime():
    with pytest.raises(ValueError):
        four_squares(-1)
    for p in (2, 5, 13, 97, 1073692673, 1000000009):
        c, d = two_squares_prime(p)
        assert c * c + d * d == p


# -- JL projections ------------------------------------------------------------------------

@pytest.mark.parametrize("blocks,n", [(1, 64), (3, 64), (2, 256), (1, 4096)])
def test_jl_project_matches_dense_matrix(blocks, n):
    rng = np.random.default_rng(blocks * n)
    seed = rng.bytes(32)
    pi = jl_matrix_dense(seed, b"m", blocks, n)
    assert pi.shape == (JL_ROWS, blocks * n)
    for bound in (2, 1 << 20, (1 << 35) - 1):
        w = rng.integers(-bound, bound, size=(blocks, n), dtype=np.int64)
        assert np.array_equal(jl_project(seed, b"m", w), pi @ w.ravel())
    # labels and seeds give independent matrices
    assert not np.array_equal(pi, jl_matrix_dense(seed, b"e", blocks, n))
    assert not np.array_equal(pi, jl_matrix_dense(seed[::-1], b"m", blocks, n))


@pytest.mark.parametrize("blocks,n", [(2, 64), (3, 256), (2, 4096)])
def test_jl_combine_matches_dense_matrix(blocks, n):
    rng = np.random.default_rng(n + blocks)
    seed = rng.bytes(32)
    pi = jl_matrix_dense(seed, b"e", blocks, n)
    gamma = rng.integers(0, 1 << 32, size=(5, JL_ROWS), dtype=np.int64)
    gamma[0] = (1 << 32) - 1  # extreme values stay exact
    gamma[1] = 0
    got = jl_combine(seed, b"e", blocks, n, gamma)
    want = (gamma.astype(object) @ pi.astype(object)).astype(np.int64)  # exact
    assert got.shape == (5, blocks, n)
    assert np.array_equal(got.reshape(5, -1), want)
    with pytest.raises(ValueError):
        jl_combine(seed, b"e", blocks, n, gamma - 1)  # negative entry
    with pytest.raises(ValueError):
        jl_combine(seed, b"e", blocks, n, gamma[:, :-1])


def test_jl_streaming_is_a_prefix():
    """Block b of a longer matrix equals block b of a shorter one (columns streamed)."""
    seed = bytes(range(32))
    assert np.array_equal(jl_matrix_dense(seed, b"m", 3, 64)[:, :128],
                          jl_matrix_dense(seed, b"m", 2, 64))


def test_jl_entry_distribution():
    pi = jl_matrix_dense(b"\x07" * 32, b"m", 4, 4096)  # 4·2^20 entries
    total = pi.size
    counts = {v: int(np.count_nonzero(pi == v)) for v in (-1, 0, 1)}
    assert sum(counts.values()) == total
    for v, p in ((0, 0.5), (1, 0.25), (-1, 0.25)):
        sd = math.sqrt(total * p * (1 - p))
        assert abs(counts[v] - total * p) < 6 * sd, (v, counts)
    # rows are balanced too: ‖Π_j‖² ≈ columns/2 for every row j
    row_weight = np.count_nonzero(pi, axis=1) / pi.shape[1]
    assert np.all(np.abs(row_weight - 0.5) < 0.02)


# -- encrypt_and_prove -------------------------------------------------------------------

def test_encrypt_and_prove_refuses_oversized_update_and_produces_nothing(keys_n64, monkeypatch):
    _, pk = keys_n64
    calls = []
    monkeypatch.setattr(api, "encrypt_with_randomness",
                        lambda *a, **k: calls.append("encrypt") or (_ for _ in ()).throw(
                            AssertionError("encrypted an oversized update")))
    monkeypatch.setattr(api, "prove", lambda *a, **k: calls.append("prove"))
    tau = 1.0
    update = np.full(100, 0.1000001)  # ‖update‖ = 1.000001 > τ
    with pytest.raises(NormBoundExceeded):
        encrypt_and_prove(pk, update, tau, 1000.0, b"ctx")
    with pytest.raises(NormBoundExceeded):
        encrypt_and_prove(pk, np.array([0.0, 2.0]), tau, 1000.0, b"ctx")
    assert calls == []


def test_encrypt_and_prove_roundtrip(keys_n64):
    _, pk = keys_n64
    rng = np.random.default_rng(3)
    update = rng.normal(size=130)  # k = 3, d not a multiple of N
    tau = float(np.linalg.norm(update))  # exactly at the clip norm
    ctx = proof_context("v1", "agg", 3, "client-1")
    ct, proof, bound = encrypt_and_prove(pk, update, tau, 2.0 ** 10, ctx)
    assert len(ct) == 3 and bound == math.floor(tau * 2 ** 10)
    from zkflpq.zk import NormStatement
    st_ = NormStatement(pk.params, pk, ct, bound, ctx)
    assert verify(st_, proof) and verify(st_, proof.to_bytes())


def test_proof_context_is_unambiguous():
    a = proof_context("v1", "agg", 1, "client-12")
    assert a == proof_context("v1", "agg", "1", "client-12")
    assert a != proof_context("v1", "agg", 11, "client-2")
    assert a != proof_context("v1", "agg1", 1, "client-12")
    assert proof_context("v1", "a", 1, "bc") != proof_context("v1", "ab", 1, "c")


def test_csprng_seeded_streams_differ_per_label():
    a = Csprng.from_seed(b"s", b"l1").random_bytes(32)
    assert a == Csprng.from_seed(b"s", b"l1").random_bytes(32)
    assert a != Csprng.from_seed(b"s", b"l2").random_bytes(32)


def test_bounds_refuse_mask_widths_beyond_the_response_encoding():
    """The Rice code carries at most RICE_MAX_LOW low bits: a parameter choice whose mask
    widths would need more is refused when the bounds are built, not at encoding time."""
    from zkflpq.ring.packing import RICE_MAX_LOW
    from zkflpq.zk.params import ZkParams

    ok = ZkParams(DEFAULT).bounds(1, 81920)
    assert max(ok.z_low_bits.values()) <= RICE_MAX_LOW
    with pytest.raises(ValueError, match="encoding"):
        ZkParams(DEFAULT, alpha=2.0 ** 30).bounds(1, 81920)


def test_refused_residues_leave_the_transcript_untouched():
    good = np.arange(8, dtype=np.int64).reshape(2, 4)
    bad = good.copy()
    bad[1, 3] = 1 << 31
    t, ref = Transcript(b"p"), Transcript(b"p")
    with pytest.raises(ValueError):
        t.absorb_residues_stacked(b"W", [good, bad])
    with pytest.raises(ValueError):
        t.absorb_residues(b"W", -good)
    assert t.squeeze(b"x", 32) == ref.squeeze(b"x", 32)
