"""Exact products through auxiliary NTT primes, and the partially splitting primes,
against plain-Python twins (schoolbook negacyclic products, big-integer CRT)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ring_naive import crt, negacyclic_mul

from zkflpq.ring import RnsBasis
from zkflpq.ring.exact import exact_products
from zkflpq.ring.primes import is_prime, split_count, splitting_primes

N = 32
PRIMES = splitting_primes(N, 27, 3)
BASIS = RnsBasis(PRIMES)
Q = BASIS.q
SHORT = 1 << 25
PRODUCTS = exact_products(N, N * (Q // 2 + 1) * SHORT)


def residues(values: list[int]) -> np.ndarray:
    return np.array([[v % p for v in values] for p in PRIMES], np.int64)


def extreme(bound: int):
    """Coefficients biased to the edges of [−bound, bound] (where overflow would show)."""
    return st.one_of(st.sampled_from([-bound, bound, -bound + 1, bound - 1, 0]),
                     st.integers(-bound, bound))


uniform_poly = st.lists(extreme(Q // 2), min_size=N, max_size=N)
short_poly = st.lists(extreme(SHORT), min_size=N, max_size=N)


@given(uniform_poly, short_poly)
@settings(max_examples=60, deadline=None)
def test_uniform_times_short_is_exact_mod_q(a, b):
    got = PRODUCTS.to_residues(PRODUCTS.mul(PRODUCTS.from_residues(residues(a), BASIS),
                                            PRODUCTS.from_int(np.array(b))), BASIS)
    assert (got == residues(negacyclic_mul(a, b))).all()


@given(st.lists(uniform_poly, min_size=3, max_size=3), st.lists(short_poly, min_size=3,
                                                                max_size=3))
@settings(max_examples=25, deadline=None)
def test_multiply_accumulate_matches_sum_of_schoolbook_products(As, Bs):
    ep = exact_products(N, 3 * N * (Q // 2 + 1) * SHORT)
    a_hat = ep.from_residues(np.stack([residues(a) for a in As]), BASIS)[None]
    b_hat = ep.from_int(np.array(Bs))
    got = ep.to_residues(ep.multiply_accumulate(a_hat, b_hat), BASIS)[0]
    prods = [negacyclic_mul(a, b) for a, b in zip(As, Bs, strict=True)]
    want = [sum(p[i] for p in prods) for i in range(N)]
    assert (got == residues(want)).all()


@given(st.lists(extreme(1 << 30), min_size=N, max_size=N),
       st.lists(extreme(1 << 26), min_size=N, max_size=N))
@settings(max_examples=60, deadline=None)
def test_short_times_short_to_int(a, b):
    ep = exact_products(N, N << 56)
    got = ep.to_int(ep.mul(ep.from_int(np.array(a)), ep.from_int(np.array(b))))
    assert got.tolist() == negacyclic_mul(a, b)


@given(uniform_poly)
@settings(max_examples=60, deadline=None)
def test_lift_is_the_centred_representative(a):
    # from_residues then back through the product domain: the lift is congruent mod q
    # and (off the ±q/2 tie) equals the big-integer centred CRT lift.
    ep = exact_products(N, Q)
    lifted = ep.to_residues(ep.from_residues(residues(a), BASIS), BASIS)
    assert (lifted == residues(a)).all()
    # The integer value itself, via the auxiliary CRT, for coefficients well inside 2^62.
    small = [x % (1 << 40) - (1 << 39) for x in a]
    ints = ep.to_int(ep.from_residues(residues(small), BASIS))
    assert ints.tolist() == [crt([x % p for p in PRIMES], list(PRIMES)) for x in small]


def test_capacity_is_a_quarter_of_the_aux_modulus_and_bounds_choose_enough_primes():
    for bound in (1, 1 << 40, 1 << 61, 1 << 92, 1 << 120, 1 << 150):
        ep = exact_products(N, bound)
        assert ep.capacity == math.prod(ep.aux_primes) // 4 > bound
        fewer = math.prod(ep.aux_primes[:-1]) // 4 if len(ep.aux_primes) > 1 else 0
        assert fewer <= bound
        assert all((P - 1) % (2 * N) == 0 and is_prime(P) and P < 1 << 31
                   for P in ep.aux_primes)
    with pytest.raises(ValueError):
        exact_products(N, 0)


def test_an_overflowing_product_is_wrong_so_the_bound_matters():
    ep = exact_products(N, 1 << 40)  # one or two aux primes: far too few for q·2^25·N
    a = [Q // 2] * N
    b = [SHORT] * N
    got = ep.to_residues(ep.mul(ep.from_residues(residues(a), BASIS),
                                ep.from_int(np.array(b))), BASIS)
    assert not (got == residues(negacyclic_mul(a, b))).all()


@pytest.mark.parametrize("factors", [2, 4, 8])
def test_splitting_primes_have_exactly_l_factors(factors):
    ps = splitting_primes(256, 27, 4, factors)
    assert list(ps) == sorted(ps, reverse=True) and len(set(ps)) == 4
    for p in ps:
        assert is_prime(p) and p < 1 << 27 and p % (4 * factors) == 2 * factors + 1
        assert split_count(p, 256) == factors
        assert split_count(p, 64) == factors  # subrings split alike
    # NTT-friendly primes split completely: the case v3 rules out.
    assert split_count(12289, 256) == 256


def test_splitting_primes_rejects_bad_arguments():
    for args in [(256, 11, 1, 2), (256, 32, 1, 2), (100, 27, 1, 2), (256, 27, 1, 3),
                 (256, 27, 1, 512), (256, 27, 1, 1)]:
        with pytest.raises(ValueError):
            splitting_primes(*args)
