"""RingContext, RNS and integer helpers against plain-Python twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ring_naive import automorphism, crt, negacyclic_mul

from zkflpq.ring import (
    RingContext,
    RnsBasis,
    automorphism_int,
    mul_sparse_ternary_int,
    ntt_primes,
    sigma_int,
)
from zkflpq.ring.primes import splitting_primes

N = 64
PRIMES = ntt_primes(N, 30, 2) + ntt_primes(N, 31, 1)  # mixed sizes, q ≈ 2^91
RING = RingContext(N, PRIMES)
Q = math.prod(PRIMES)
# The BFV primes of proof v3 (p ≡ 5 mod 8): residue operations only, no NTT.
SPLIT_PRIMES = splitting_primes(N, 27, 3)
SPLIT = RingContext(N, SPLIT_PRIMES)


def residues(values: list[int]) -> np.ndarray:
    return np.array([[v % p for v in values] for p in PRIMES], np.int64)


small_poly = st.lists(st.integers(-(2**20), 2**20), min_size=N, max_size=N)
big_poly = st.lists(st.integers(-(Q // 2), Q // 2), min_size=N, max_size=N)


# -- RNS ----------------------------------------------------------------------------
@given(big_poly)
def test_lift_centered_matches_big_integer_crt(values):
    r = residues(values)
    got = RING.basis.lift_centered(r)
    assert [int(x) for x in got] == [crt(list(r[:, i]), list(PRIMES)) for i in range(N)]
    assert [int(x) for x in got] == values  # values already lie in (−q/2, q/2]


def test_lift_boundaries():
    half = (Q - 1) // 2  # q is odd: the centred range is [−(q−1)/2, (q−1)/2]
    vals = [half, -half, 0, 1, -1, half - 1] + [0] * (N - 6)
    assert [int(x) for x in RING.lift(residues(vals))] == vals
    assert int(RING.lift(residues([half + 1] + [0] * (N - 1)))[0]) == -half


@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=N, max_size=N))
def test_reduce_signed_int64(values):
    got = RING.basis.reduce(np.array(values, np.int64))
    assert got.shape == (len(PRIMES), N)
    assert np.array_equal(got, residues(values))


@given(st.integers(-(2**200), 2**200))
def test_reduce_int_and_bigint(v):
    assert [int(x) for x in RING.basis.reduce_int(v)] == [v % p for p in PRIMES]
    arr = np.array([v, -v], dtype=object)
    got = RING.basis.reduce_bigint(arr)
    assert [int(x) for x in got[:, 0]] == [v % p for p in PRIMES]
    assert [int(x) for x in got[:, 1]] == [-v % p for p in PRIMES]


def test_lift_small_rejects_large():
    assert np.array_equal(RING.centered_small(residues([5, -7] + [0] * (N - 2)))[:2], [5, -7])
    with pytest.raises(ValueError):
        RING.centered_small(residues([2**40] + [0] * (N - 1)), bound=2**40)


def test_basis_rejects_duplicates():
    with pytest.raises(ValueError):
        RnsBasis((PRIMES[0], PRIMES[0]))


# -- ring operations -------------------------------------------------------------------
@given(big_poly, big_poly)
def test_add_sub_neg_mul_match_python(a, b):
    ra, rb = residues(a), residues(b)
    assert np.array_equal(RING.add(ra, rb), residues([x + y for x, y in zip(a, b, strict=True)]))
    assert np.array_equal(RING.sub(ra, rb), residues([x - y for x, y in zip(a, b, strict=True)]))
    assert np.array_equal(RING.neg(ra), residues([-x for x in a]))
    prod = negacyclic_mul(a, b)  # over Z, then reduced: checks every prime at once
    assert np.array_equal(RING.mul(ra, rb), residues(prod))


@given(big_poly, st.integers(-(2**130), 2**130))
def test_scalar_mul_any_integer(a, k):
    assert np.array_equal(RING.scalar_mul(residues(a), k), residues([x * k for x in a]))


def test_constant():
    c = RING.constant(-(2**100) - 3)
    assert np.array_equal(c, residues([-(2**100) - 3] + [0] * (N - 1)))


@st.composite
def sparse_ternary(draw):
    weight = draw(st.integers(0, N))
    pos = draw(st.lists(st.integers(0, N - 1), min_size=weight, max_size=weight, unique=True))
    sgn = draw(st.lists(st.sampled_from([-1, 1]), min_size=weight, max_size=weight))
    dense = [0] * N
    for i, s in zip(pos, sgn, strict=True):
        dense[i] = s
    return np.array(pos, np.int64), np.array(sgn, np.int64), dense


@given(sparse_ternary(), big_poly)
def test_mul_sparse_ternary_mod_q(c, a):
    pos, sgn, dense = c
    got = RING.mul_sparse_ternary(residues(a)[None], pos, sgn)
    assert got.shape == (1, len(PRIMES), N)
    assert np.array_equal(got[0], residues(negacyclic_mul(dense, a)))


@given(sparse_ternary(), st.lists(small_poly, min_size=1, max_size=3))
def test_mul_sparse_ternary_int(c, rows):
    pos, sgn, dense = c
    got = mul_sparse_ternary_int(np.array(rows, np.int64), pos, sgn)
    for row, g in zip(rows, got, strict=True):
        assert [int(x) for x in g] == negacyclic_mul(dense, row)


@given(st.integers(0, N - 1).map(lambda i: 2 * i + 1), big_poly)
def test_automorphism_matches_definition(k, a):
    assert np.array_equal(RING.automorphism(residues(a), k),
                          residues(automorphism(a, k)))


@given(st.integers(0, N - 1).map(lambda i: 2 * i + 1), small_poly)
def test_automorphism_int_matches_definition(k, a):
    assert [int(x) for x in automorphism_int(np.array(a), k)] == automorphism(a, k)


def test_automorphism_rejects_even_exponent():
    with pytest.raises(ValueError):
        RING.automorphism(residues([1] * N), 2)


def test_sigma_on_monomials():
    for i in range(N):
        mono = [0] * N
        mono[i] = 1
        expect = [0] * N
        if i == 0:
            expect[0] = 1
        else:
            expect[N - i] = -1  # σ(X^i) = X^{-i} = −X^{N−i}
        assert [int(x) for x in sigma_int(np.array(mono))] == expect
        assert np.array_equal(RING.sigma(residues(mono)), residues(expect))


@given(small_poly, small_poly)
def test_ct_sigma_product_is_inner_product_over_z(a, b):
    """ct(σ(a)·b) = <a, b> exactly (|<a, b>| ≤ 64·2^40 < q/2, so the lift is exact)."""
    prod = RING.mul(RING.sigma(residues(a)), residues(b))
    inner = sum(x * y for x, y in zip(a, b, strict=True))
    assert int(RING.lift(prod)[0]) == inner
    assert [int(x) for x in RING.ct(prod)] == [inner % p for p in PRIMES]
    assert negacyclic_mul(automorphism(a, 2 * N - 1), b)[0] == inner


@given(big_poly)
def test_sigma_in_the_ntt_domain_is_a_reversal(a):
    x = residues(a)
    assert np.array_equal(RING.sigma_ntt(RING.ntt(x)), RING.ntt(RING.sigma(x)))
    assert np.array_equal(RING.intt(RING.sigma_ntt(RING.ntt(x))), RING.sigma(x))


@given(big_poly, big_poly)
def test_ct_sigma_product_is_inner_product_mod_q(a, b):
    prod = RING.mul(RING.sigma(residues(a)), residues(b))
    inner = sum(x * y for x, y in zip(a, b, strict=True))
    assert [int(x) for x in RING.ct(prod)] == [inner % p for p in PRIMES]


def test_ring_validation():
    with pytest.raises(ValueError):
        RingContext(48, PRIMES)
    for bad in ((PRIMES[0] + 1,), (2,), (1,), (2**31 + 11,)):  # even, too small, ≥ 2^31
        with pytest.raises(ValueError, match="odd and below"):
            RingContext(N, bad)
    assert RING.ntt_friendly and not SPLIT.ntt_friendly
    # one prime not ≡ 1 mod 2N is enough to lose the NTT
    mixed = RingContext(N, (PRIMES[0], SPLIT_PRIMES[0]))
    assert not mixed.ntt_friendly
    x = np.zeros((len(SPLIT_PRIMES), N), np.int64)
    for ring, arr in ((SPLIT, x), (mixed, x[:2])):
        with pytest.raises(ValueError, match="NTT"):
            ring.tables  # noqa: B018
        for op in (ring.ntt, ring.intt):
            with pytest.raises(ValueError, match="NTT"):
                op(arr)
        for op2 in (ring.mul, ring.mul_ntt):
            with pytest.raises(ValueError, match="NTT"):
                op2(arr, arr)


def split_residues(values: list[int]) -> np.ndarray:
    return np.array([[v % p for v in values] for p in SPLIT_PRIMES], np.int64)


Q_SPLIT = math.prod(SPLIT_PRIMES)
split_poly = st.lists(st.integers(-(Q_SPLIT // 2), Q_SPLIT // 2), min_size=N, max_size=N)


@given(split_poly, split_poly, st.integers(-(2**100), 2**100), sparse_ternary())
def test_residue_ops_work_for_non_ntt_primes(a, b, k, c):
    ra, rb = split_residues(a), split_residues(b)
    pairs = list(zip(a, b, strict=True))
    assert np.array_equal(SPLIT.add(ra, rb), split_residues([x + y for x, y in pairs]))
    assert np.array_equal(SPLIT.sub(ra, rb), split_residues([x - y for x, y in pairs]))
    assert np.array_equal(SPLIT.neg(ra), split_residues([-x for x in a]))
    assert np.array_equal(SPLIT.scalar_mul(ra, k), split_residues([x * k for x in a]))
    assert [int(v) for v in SPLIT.lift(ra)] == a
    assert np.array_equal(SPLIT.sigma(ra), split_residues(automorphism(a, 2 * N - 1)))
    assert np.array_equal(SPLIT.constant(k), split_residues([k] + [0] * (N - 1)))
    pos, sgn, dense = c
    got = SPLIT.mul_sparse_ternary(ra[None], pos, sgn)
    assert np.array_equal(got[0], split_residues(negacyclic_mul(dense, a)))
    small = [x % 2**20 - 2**19 for x in a]
    assert np.array_equal(SPLIT.from_int(np.array(small, np.int64)), split_residues(small))
    assert [int(v) for v in SPLIT.centered_small(split_residues(small))] == small


@given(st.integers(0, 2**32 - 1))
def test_batched_add_sub_fast_path_and_broadcasting(seed):
    rng = np.random.default_rng(seed)
    p = np.array(PRIMES)[:, None]
    a = rng.integers(0, p, (2, 3, len(PRIMES), N))
    b = rng.integers(0, p, (2, 3, len(PRIMES), N))
    a[0, 0, :, 0] = p[:, 0] - 1
    b[0, 0, :, 0] = p[:, 0] - 1
    expect_add = (a.astype(object) + b) % p
    expect_sub = (a.astype(object) - b) % p
    assert np.array_equal(RING.add(a, b), expect_add)  # same-shape fused kernel
    assert np.array_equal(RING.sub(a, b), expect_sub)
    assert np.array_equal(RING.add(a, b[0, 0]), (a.astype(object) + b[0, 0]) % p)  # broadcast
    assert np.array_equal(RING.sub(a[:, ::2], b[:, ::2]), expect_sub[:, ::2])  # non-contiguous
