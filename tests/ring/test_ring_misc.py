"""Primes, bit packing and samplers against plain-Python definitions and statistics."""

from __future__ import annotations

import decimal
import math

import numpy as np
import pytest
import ring_naive
from hypothesis import example, given
from hypothesis import strategies as st
from ring_naive import is_prime_trial

from zkflpq.bfv import DEFAULT, INSECURE_N64, INSECURE_N256
from zkflpq.ring import (
    Csprng,
    centered_binomial,
    discrete_gaussian,
    is_prime,
    ntt_primes,
    pack_uint,
    packed_size,
    primitive_2n_root,
    ternary,
    uniform_mod,
    unpack_uint,
)
from zkflpq.ring.packing import rice_decode, rice_encode
from zkflpq.ring.primes import split_count, splitting_primes
from zkflpq.ring.sampling import rounded_gaussian_from_uniform, uniform_open_128

# -- primes ---------------------------------------------------------------------------


def test_is_prime_matches_trial_division_small():
    assert [n for n in range(20000) if is_prime(n)] == [
        n for n in range(20000) if is_prime_trial(n)]


@given(st.integers(2**20, 2**34))
def test_is_prime_matches_trial_division_large(n):
    assert is_prime(n) == is_prime_trial(n)


@pytest.mark.parametrize("n", [561, 1105, 2047, 41041, 825265, 3215031751, 3825123056546413051])
def test_is_prime_rejects_pseudoprimes(n):
    assert not is_prime(n)  # Carmichael numbers and strong pseudoprimes to small bases


def test_is_prime_known_primes():
    assert is_prime(2**31 - 1) and is_prime(2**61 - 1) and not is_prime(2**32 + 1)


@pytest.mark.parametrize("n,bits,count", [(16, 17, 4), (64, 30, 3), (256, 31, 3), (4096, 30, 3)])
def test_ntt_primes(n, bits, count):
    ps = ntt_primes(n, bits, count)
    assert len(ps) == count and list(ps) == sorted(ps, reverse=True)
    for p in ps:
        assert p < 2**bits and p % (2 * n) == 1 and is_prime_trial(p)
    # they are the largest ones: no other such prime between them and 2^bits
    skipped = [c for c in range(ps[-1], 2**bits, 2 * n) if c not in ps and is_prime(c)]
    assert skipped == []


def test_ntt_primes_exclude_and_errors():
    a = ntt_primes(64, 30, 2)
    assert ntt_primes(64, 30, 1, exclude=(a[0],)) == (a[1],)
    with pytest.raises(ValueError):
        ntt_primes(64, 40, 1)
    with pytest.raises(ValueError):
        ntt_primes(48, 30, 1)
    with pytest.raises(ValueError):
        ntt_primes(4096, 14, 5)  # not enough primes ≡ 1 mod 8192 below 2^14


def test_preset_primes_are_generated_not_typed():
    # v3: BFV primes p ≡ 5 (mod 8), X^N + 1 in exactly two factors, never NTT-friendly
    assert DEFAULT.primes == splitting_primes(4096, 27, 3)
    for params in (DEFAULT, INSECURE_N256, INSECURE_N64):
        assert params.primes == splitting_primes(params.n, 27, 3)
        for p in params.primes:
            assert is_prime_trial(p) and p % 8 == 5 and p < 2**27
            assert split_count(p, params.n) == 2 and (p - 1) % (2 * params.n) != 0


def _factor_count_naive(p: int, n: int) -> int:
    # Irreducible factors of X^n + 1 over F_p, n a power of two: its roots are the
    # primitive 2n-th roots of unity in the algebraic closure; the factors are the orbits
    # under Frobenius x ↦ x^p, i.e. the cosets of <p> acting on the odd residues mod 2n.
    odd, seen, orbits = set(range(1, 2 * n, 2)), set(), 0
    for e in sorted(odd):
        if e in seen:
            continue
        orbits += 1
        while e not in seen:
            seen.add(e)
            e = e * p % (2 * n)
    return orbits


@pytest.mark.parametrize("n", [16, 64, 256])
def test_split_count_matches_frobenius_orbits(n):
    for p in [3, 5, 7, 13, 17, 97, 193, 12289, 134217613, 2**31 - 1]:
        assert split_count(p, n) == _factor_count_naive(p, n)
    assert split_count(ntt_primes(n, 30, 1)[0], n) == n  # fully splitting


@pytest.mark.parametrize("n", [16, 64, 4096])
def test_primitive_root(n):
    p = ntt_primes(n, 30, 1)[0]
    psi = primitive_2n_root(p, n)
    assert pow(psi, n, p) == p - 1 and pow(psi, 2 * n, p) == 1
    with pytest.raises(ValueError):
        primitive_2n_root(p + 2, n)


# -- packing ----------------------------------------------------------------------------
@given(st.data())
def test_pack_roundtrip(data):
    width = data.draw(st.integers(1, 56))
    vals = data.draw(st.lists(st.integers(0, 2**width - 1), max_size=200))
    packed = pack_uint(np.array(vals, np.int64), width)
    assert len(packed) == packed_size(len(vals), width) == math.ceil(len(vals) * width / 8)
    # little-endian bit order, straight from the definition
    assert int.from_bytes(packed, "little") == sum(v << (i * width) for i, v in enumerate(vals))
    assert [int(x) for x in unpack_uint(packed, width, len(vals))] == vals


def test_pack_rejects_bad_input():
    with pytest.raises(ValueError):
        pack_uint(np.array([4]), 2)
    with pytest.raises(ValueError):
        pack_uint(np.array([-1]), 8)
    with pytest.raises(ValueError):
        pack_uint(np.array([1]), 57)
    with pytest.raises(ValueError):
        pack_uint(np.array([1]), 0)


def test_unpack_rejects_bad_length_and_padding():
    packed = pack_uint(np.array([1, 2, 3]), 3)  # 9 bits → 2 bytes, 7 padding bits
    assert len(packed) == 2
    with pytest.raises(ValueError, match="length"):
        unpack_uint(packed + b"\0", 3, 3)
    with pytest.raises(ValueError, match="length"):
        unpack_uint(packed[:1], 3, 3)
    bad = bytes([packed[0], packed[1] | 0x80])
    with pytest.raises(ValueError, match="padding"):
        unpack_uint(bad, 3, 3)
    with pytest.raises(ValueError):
        unpack_uint(packed, 0, 3)


# -- CSPRNG ---------------------------------------------------------------------------
# -- Rice coding ------------------------------------------------------------------------

@given(st.integers(0, 48), st.data())
def test_rice_roundtrip_and_naive_twin(low, data):
    values = data.draw(st.lists(st.integers(-(1 << min(low + 3, 62)) + 1,
                                            (1 << min(low + 3, 62)) - 1), max_size=60))
    encoded = rice_encode(np.array(values, dtype=np.int64), low, 8)
    assert rice_decode(encoded, low, 8, len(values)).tolist() == values
    assert ring_naive.rice_decode(encoded, low, 8, len(values)) == values


@given(st.binary(max_size=40), st.integers(0, 48), st.integers(0, 12), st.integers(0, 20))
def test_rice_decode_matches_naive_twin_on_arbitrary_bytes(data, low, max_high, count):
    """Every input, canonical or not, decodes to the same values or the same error."""
    expected = ring_naive.rice_decode(data, low, max_high, count)
    try:
        got = rice_decode(data, low, max_high, count).tolist()
    except ValueError as e:
        got = str(e)
    assert got == expected


def test_csprng_from_seed_is_deterministic_and_label_separated():
    a = Csprng.from_seed(b"seed", b"label").random_bytes(64)
    assert a == Csprng.from_seed(b"seed", b"label").random_bytes(64)
    assert a != Csprng.from_seed(b"seed", b"label2").random_bytes(64)
    assert a != Csprng.from_seed(b"seed2", b"label").random_bytes(64)
    # the label is length-prefixed: moving bytes between label and seed changes the stream
    assert (Csprng.from_seed(b"c", b"ab").random_bytes(32)
            != Csprng.from_seed(b"bc", b"a").random_bytes(32))


def test_csprng_stream_is_continuous():
    r1, r2 = Csprng.from_seed(b"s", b"l"), Csprng.from_seed(b"s", b"l")
    assert r1.random_bytes(10) + r1.random_bytes(22) == r2.random_bytes(32)


def test_csprng_fresh_instances_differ():
    outs = {Csprng().random_bytes(32) for _ in range(8)}
    assert len(outs) == 8
    with pytest.raises(ValueError):
        Csprng(b"short")


# -- samplers ---------------------------------------------------------------------------
COUNT = 60000


def _rng(label: bytes) -> Csprng:
    return Csprng.from_seed(b"sampler-tests", label)


def test_ternary_range_and_frequencies():
    x = ternary(_rng(b"ternary"), (COUNT,))
    assert x.dtype == np.int64 and set(np.unique(x)) == {-1, 0, 1}
    counts = np.array([(x == v).sum() for v in (-1, 0, 1)])
    sd = math.sqrt(COUNT * (1 / 3) * (2 / 3))
    assert np.all(np.abs(counts - COUNT / 3) < 5 * sd)
    assert ternary(_rng(b"t"), (3, 5)).shape == (3, 5)


@pytest.mark.parametrize("eta", [1, 2, 21, 32])
def test_cbd_range_and_moments(eta):
    x = centered_binomial(_rng(b"cbd%d" % eta), eta, (COUNT,))
    assert x.min() >= -eta and x.max() <= eta
    var = eta / 2
    assert abs(x.mean()) < 5 * math.sqrt(var / COUNT)
    # Var of the sample variance for CBD ≈ 2σ^4 (nearly Gaussian): 6 standard errors
    assert abs(x.var() - var) < 6 * var * math.sqrt(2 / COUNT) + 1e-9
    if eta >= 2:
        assert x.min() < 0 < x.max()


def test_cbd_rejects_bad_eta():
    with pytest.raises(ValueError):
        centered_binomial(_rng(b"x"), 33, (4,))
    with pytest.raises(ValueError):
        centered_binomial(_rng(b"x"), 0, (4,))


@pytest.mark.parametrize("sigma", [4.0, 17.5, 2.0**20])
def test_rounded_gaussian_moments(sigma):
    x = discrete_gaussian(_rng(b"gauss"), sigma, (COUNT + 1,))  # odd count: last half-pair
    assert x.dtype == np.int64 and x.shape == (COUNT + 1,)
    sd_expected = math.sqrt(sigma**2 + 1 / 12)  # rounding adds ≈ uniform(−1/2, 1/2) noise
    assert abs(x.mean()) < 5 * sd_expected / math.sqrt(COUNT)
    assert abs(x.std() / sd_expected - 1) < 6 * math.sqrt(1 / (2 * COUNT))
    # tails: Gaussian has P(|x| > 4σ) ≈ 6.3e-5
    assert (np.abs(x) > 4 * sigma).mean() < 5e-4
    assert np.array_equal(x, np.rint(x))


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
@example(0, 0)
@example(0, 2**64 - 1)
@example(256, 26738687)
@example(2**64 - 1, 2**64 - 1)
def test_radius_uniform_matches_big_integer_twin(hi, lo):
    # Naive twin: the exact rational (hi·2^64 + lo + 1)/2^128 in 60-digit decimal; the
    # float must be within a relative 2^-51 of it, also near 2^-128 where 53-bit uniforms
    # had no values at all.
    u = uniform_open_128(np.uint64(hi), np.uint64(lo))
    assert 0.0 < u <= 1.0
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        exact = decimal.Decimal(hi * 2**64 + lo + 1) / decimal.Decimal(2**128)
        assert abs(decimal.Decimal(u) - exact) <= exact * decimal.Decimal(2) ** -51


def test_rounded_gaussian_radius_reaches_beyond_the_53_bit_cap():
    # words (0, 0, 0): u1 = 2^-128, angle 0 → radius √(256·ln 2)·σ ≈ 13.32σ; with 53-bit
    # uniforms no output could exceed 8.57σ (the truncation that F6 reported).
    out = np.empty(2, dtype=np.int64)
    rounded_gaussian_from_uniform(np.zeros(3, dtype=np.uint64), 4.0, out)
    assert out[0] == round(4.0 * math.sqrt(256 * math.log(2))) == 53
    assert out[1] == 0


def test_rounded_gaussian_rejects_small_sigma():
    with pytest.raises(ValueError):
        discrete_gaussian(_rng(b"g"), 3.9, (4,))


def test_uniform_mod_range_and_uniformity():
    primes = ntt_primes(64, 31, 1) + ntt_primes(64, 17, 1)
    x = uniform_mod(_rng(b"uniform"), primes, (2, COUNT // 2))
    assert x.shape == (2, len(primes), COUNT // 2)
    for j, p in enumerate(primes):
        v = x[:, j].ravel()
        assert v.min() >= 0 and v.max() < p
        buckets = np.bincount((v * 16) // p, minlength=16)
        chi2 = float(((buckets - v.size / 16) ** 2 / (v.size / 16)).sum())
        assert chi2 < 50  # 15 degrees of freedom: P(chi2 > 50) ≈ 1e-5
        assert abs(v.mean() / (p - 1) - 0.5) < 5 * math.sqrt(1 / 12 / v.size)


def test_samplers_deterministic_from_seed():
    a = uniform_mod(_rng(b"d"), (97,), (8,))
    b = uniform_mod(_rng(b"d"), (97,), (8,))
    assert np.array_equal(a, b)
