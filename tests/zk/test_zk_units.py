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
import zkflpq.zk.protocol as protocol
from zkflpq.bfv import DEFAULT, INSECURE_N64, INSECURE_N256
from zkflpq.ring import Csprng, sigma_int
from zkflpq.ring.poly import mul_sparse_ternary_int
from zkflpq.zk import (
    NormBoundExceeded,
    ProofBounds,
    ZkParams,
    encrypt_and_prove,
    proof_context,
    verify,
    zk_params_for,
)
from zkflpq.zk.challenge import (
    Challenge,
    challenge_space_bits,
    challenge_weight,
    operator_norm,
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


# -- challenges ---------------------------------------------------------------------------

@pytest.mark.parametrize("params", [INSECURE_N64, INSECURE_N256, DEFAULT], ids=lambda p: p.name)
def test_sample_challenge_sigma_invariant_weight_deterministic(params):
    zk = zk_params_for(params)
    n = zk.d  # challenges live in the subring R_d (d = 64, 64, 1024)
    assert n == (64 if params.insecure else 1024)
    w = zk.challenge_weight
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
        assert operator_norm(dense) <= zk.eta  # in C'
        seen.add(c.encode())
    assert len(seen) == 20


@given(st.integers(0, 2 ** 32), st.sampled_from([INSECURE_N64, INSECURE_N256, DEFAULT]))
@settings(max_examples=20)
def test_subring_challenge_acts_on_every_view(seed, params):
    """c ∈ R_d embedded in R_N as c(X^{N/d}) multiplies each of the N/d subring views of
    a chunk separately (_views is a permutation of coefficients, so norms are kept), the
    embedding is σ-invariant in R_N, and ‖c·w‖ ≤ η·‖w‖ holds in R_N too."""
    zk = zk_params_for(params)
    rng = np.random.default_rng(seed)
    c = sample_challenge(rng.bytes(32), zk.d, zk.challenge_weight)
    w = rng.integers(-1000, 1001, size=(2, zk.n), dtype=np.int64)
    pos_n, sgn = protocol._embedded(zk, c)
    cw = mul_sparse_ternary_int(w, pos_n, sgn)
    views = protocol._views(zk, w)
    assert views.shape == (2 * zk.views, zk.d)
    assert sorted(views.ravel()) == sorted(w.ravel())
    assert np.array_equal(protocol._views(zk, cw),
                          mul_sparse_ternary_int(views, c.positions, c.coefficients))
    dense_n = np.zeros(zk.n, dtype=np.int64)
    dense_n[pos_n] = sgn
    assert np.array_equal(sigma_int(dense_n), dense_n)
    assert np.linalg.norm(cw) <= zk.eta * np.linalg.norm(w) * (1 + 1e-12)


def test_challenge_signs_are_balanced():
    n, w = zk_params_for(DEFAULT).d, zk_params_for(DEFAULT).challenge_weight
    signs = [s for i in range(200) for s in sample_challenge(bytes([i]) * 32, n, w).signs]
    frac = signs.count(-1) / len(signs)
    assert abs(frac - 0.5) < 0.1


def test_challenge_space_default_at_least_2_128():
    """In the subring of degree d = 1024 (one repetition: |C| itself must be ≥ 2^128)."""
    zk = zk_params_for(DEFAULT)
    assert zk.d == 1024
    w = challenge_weight(1024)
    assert challenge_space_bits(1024, w) >= 128
    assert challenge_space_bits(1024, w - 1) < 128  # smallest such weight
    assert zk.challenge_weight == w
    assert zk.challenge_bits >= 128
    # exact count binom(d/2 − 1, w)·2^w
    assert math.comb(511, w) * 2 ** w >= 2 ** 128


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


# -- exact ‖v‖² -------------------------------------------------------------------------------

_LIMIT = (1 << 34) - 1
_entries = st.one_of(st.integers(-_LIMIT, _LIMIT), st.sampled_from([_LIMIT, -_LIMIT, 0, 1, -1,
                                                                    (1 << 31) - 1, 1 << 31]))


@given(st.lists(_entries, max_size=300), st.sampled_from([1, 2, 3]))
@settings(max_examples=100)
def test_exact_norm2_matches_python_integers(values, rows):
    """‖v‖² exactly for |v| < 2^34 — also where np.dot(v, v) wraps around 2^63."""
    v = np.array(values + [0] * (-len(values) % rows), dtype=np.int64).reshape(rows, -1)
    want = sum(x * x for x in values)
    assert protocol.exact_norm2(v) == want
    assert protocol.exact_norm2(v.T) == want  # any layout
    if v.size:
        big = v.copy()
        big.flat[len(values) // 2] = (1 << 34) * (1 if len(values) % 2 else -1)
        assert protocol.exact_norm2(big) is None  # |v| ≥ 2^34: not representable


def test_exact_norm2_where_int64_wraps():
    v = np.array([_LIMIT] * 1000 + [-_LIMIT] * 1000, dtype=np.int64)
    assert protocol.exact_norm2(v) == 2000 * _LIMIT ** 2  # ≈ 2^78.9
    m = np.array([1 << 31] * 4 + [3], dtype=np.int64)
    assert int(np.dot(m, m)) == 9  # the naive sum wraps to a small value
    assert protocol.exact_norm2(m) == 4 * 2 ** 62 + 9
    assert protocol.exact_norm2(np.zeros(0, dtype=np.int64)) == 0


# -- auxiliary primes of the exact products --------------------------------------------------

@pytest.mark.parametrize("params", [INSECURE_N64, DEFAULT], ids=lambda p: p.name)
def test_too_few_auxiliary_primes_are_refused(params):
    """ZkParams(aux_counts=...) with fewer auxiliary primes than the product bounds need:
    ProofBounds refuses (a product could wrap modulo the auxiliary modulus and make an
    honest proof fail, or a wrong one pass)."""
    kw = dict(subring_degree=64, mlwe_rank=2) if params.insecure else {}
    k, B = 1, 1 << 20
    with pytest.raises(ValueError, match="auxiliary primes"):
        ProofBounds(ZkParams(params, **kw, aux_counts=(1, 1, 1)), k, B)
    with pytest.raises(ValueError, match="auxiliary primes"):
        ZkParams(params, **kw, aux_counts=(1, 1, 1)).bounds(k, B)
    auto = ZkParams(params, **kw).bounds(k, B)
    need = tuple(len(e.aux_primes) for e in auto.engines)
    for engine, bound in zip(auto.engines, auto.product_bounds, strict=True):
        assert engine.capacity > bound
    exact = ZkParams(params, **kw, aux_counts=need).bounds(k, B)  # the fewest: accepted
    assert [e.aux_primes for e in exact.engines] == [e.aux_primes for e in auto.engines]
    for i in range(3):  # one fewer in any engine: refused
        fewer = tuple(c - (j == i) for j, c in enumerate(need))
        with pytest.raises(ValueError, match="auxiliary primes"):
            ZkParams(params, **kw, aux_counts=fewer).bounds(k, B)
