"""NTT kernels against plain-Python twins: schoolbook products, evaluation, Python `%`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ring_naive import negacyclic_mul

from zkflpq.ring import (
    NttTables,
    RingContext,
    ntt_forward,
    ntt_inverse,
    ntt_primes,
    pointwise_mul,
)
from zkflpq.ring.ntt import multiply_accumulate

NS = (16, 64, 256)
BITS = (17, 30, 31)  # 31 bits: lazy values near 2^32 exercise the Shoup input bound
PRIMES = {(n, b): ntt_primes(n, b, 2) for n in NS for b in BITS}


@st.composite
def poly_case(draw, n=None):
    n = draw(st.sampled_from(NS)) if n is None else n
    bits = draw(st.sampled_from(BITS))
    p = draw(st.sampled_from(PRIMES[n, bits]))
    coeff = st.one_of(st.integers(0, p - 1), st.sampled_from([0, 1, p - 1, p // 2]))
    a = draw(st.lists(coeff, min_size=n, max_size=n))
    b = draw(st.lists(coeff, min_size=n, max_size=n))
    return n, p, a, b


@given(poly_case())
def test_ntt_product_matches_schoolbook(case):
    n, p, a, b = case
    ring = RingContext(n, (p,))
    got = ring.mul(np.array([a], np.int64), np.array([b], np.int64))
    assert got.shape == (1, n)
    assert [int(x) for x in got[0]] == negacyclic_mul(a, b, p)


@pytest.mark.parametrize("n", NS)
def test_multi_prime_batched_product(n):
    primes = PRIMES[n, 31] + PRIMES[n, 30] + PRIMES[n, 17]
    ring = RingContext(n, primes)
    rng = np.random.default_rng(n)
    p = np.array(primes)[:, None]
    a = rng.integers(0, p, (3, len(primes), n))
    b = rng.integers(0, p, (len(primes), n))  # broadcasts against the batch
    got = ring.mul(a, b)
    for k in range(3):
        for j, pj in enumerate(primes):
            assert [int(x) for x in got[k, j]] == negacyclic_mul(list(a[k, j]), list(b[j]), pj)


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("bits", BITS)
def test_extreme_coefficients(n, bits):
    p = PRIMES[n, bits][0]
    ring = RingContext(n, (p,))
    a = np.full((1, n), p - 1, np.int64)
    got = ring.mul(a, a)
    assert [int(x) for x in got[0]] == negacyclic_mul([p - 1] * n, [p - 1] * n, p)


@given(poly_case())
def test_ntt_inverse_roundtrip(case):
    n, p, a, b = case
    tables = NttTables.build(n, (p,))
    arr = np.array([[a], [b]], np.int64)  # batch of two, L = 1
    fwd = ntt_forward(arr, tables)
    assert fwd.min() >= 0 and fwd.max() < p
    back = ntt_inverse(fwd, tables)
    assert np.array_equal(back, arr)
    assert np.array_equal(ntt_forward(ntt_inverse(arr, tables), tables), arr)
    assert np.array_equal(arr, np.array([[a], [b]]))  # inputs are not modified in place


@given(poly_case(n=16))
def test_forward_is_evaluation_at_odd_powers_of_psi(case):
    """â_i = a(ψ^(2·brv(i)+1)): the documented bit-reversed evaluation layout."""
    n, p, a, _ = case
    tables = NttTables.build(n, (p,))
    bits = n.bit_length() - 1
    brv = [int(format(i, f"0{bits}b")[::-1], 2) for i in range(n)]
    root = int(tables.psi[0, brv.index(1)])  # the table holds ψ^brv(i); brv(i) = 1 gives ψ
    assert pow(root, n, p) == p - 1
    got = ntt_forward(np.array([a], np.int64), tables)[0]
    for i in range(n):
        x = pow(root, 2 * brv[i] + 1, p)
        assert int(got[i]) == sum(int(c) * pow(x, k, p) for k, c in enumerate(a)) % p


@given(st.sampled_from(NS), st.sampled_from(BITS), st.integers(0, 2**32 - 1))
def test_pointwise_mul_matches_python_mod(n, bits, seed):
    primes = PRIMES[n, bits]
    tables = NttTables.build(n, primes)
    rng = np.random.default_rng(seed)
    p = np.array(primes)[:, None]
    a = rng.integers(0, p, (2, len(primes), n))
    b = rng.integers(0, p, (len(primes), n))
    a[0, :, 0] = p[:, 0] - 1
    b[:, 0] = p[:, 0] - 1
    got = pointwise_mul(a, b, tables)
    assert got.shape == a.shape
    for k in range(2):
        for j, pj in enumerate(primes):
            assert [int(x) for x in got[k, j]] == [
                int(x) * int(y) % pj for x, y in zip(a[k, j], b[j], strict=True)]


def test_shape_mismatch_rejected():
    tables = NttTables.build(16, PRIMES[16, 30][:1])
    with pytest.raises(ValueError):
        ntt_forward(np.zeros((2, 16), np.int64), tables)


def test_primes_of_32_bits_rejected():
    with pytest.raises(ValueError):
        NttTables.build(16, (4294967197,))


@given(st.sampled_from(BITS), st.integers(1, 40), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_multiply_accumulate_matches_python_sum(bits, terms, rows, seed):
    """Σ_k a[r, k]·b[k] mod p against Python integers, with maximal residues mixed in so
    the lazy uint64 sums reach their limit (16 terms at 30 bits, 4 at 31)."""
    n = 16
    primes = PRIMES[n, bits]
    tables = NttTables.build(n, primes)
    rng = np.random.default_rng(seed)
    p = np.array(primes)[:, None]
    a = rng.integers(0, p, (rows, terms, len(primes), n))
    b = rng.integers(0, p, (terms, len(primes), n))
    a[..., : n // 2] = p - 1  # worst case in half of the lanes
    b[..., : n // 2] = p - 1
    for a_store in (a, a.astype(np.uint32)):
        got = multiply_accumulate(a_store, b, tables)
        for r in range(rows):
            for j, pj in enumerate(primes):
                assert [int(x) for x in got[r, j]] == [
                    sum(int(a[r, k, j, i]) * int(b[k, j, i]) for k in range(terms)) % pj
                    for i in range(n)]
