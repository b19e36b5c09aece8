"""BFV: correctness, homomorphisms, exact noise accounting, and the 1024-client sum."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkflpq.bfv import (
    DEFAULT,
    INSECURE_N64,
    INSECURE_N256,
    Ciphertexts,
    EncryptionRandomness,
    add,
    check_key_pair,
    decrypt,
    decrypt_with_noise,
    encrypt,
    encrypt_deterministic,
    encrypt_with_randomness,
    keygen,
    ring_of,
    scalar_mul,
    sum_ciphertexts,
)
from zkflpq.bfv.scheme import key_error
from zkflpq.ring import Csprng
from zkflpq.ring import sampling as ring_sampling

T = 2**32
HALF = T // 2


def centred_mod_t(x):
    x = np.asarray(x, dtype=object) % T
    return np.where(x > HALF, x - T, x).astype(np.int64)


def negacyclic_int(a, b):
    """Schoolbook product over Z of two short integer polynomials (Python ints)."""
    n = len(a)
    out = [0] * n
    for i in range(n):
        for j in range(n):
            k = i + j
            if k < n:
                out[k] += int(a[i]) * int(b[j])
            else:
                out[k - n] -= int(a[i]) * int(b[j])
    return out


def random_plaintext(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    m = rng.integers(-HALF + 1, HALF + 1, (k, n), dtype=np.int64)
    m[0, :4] = [HALF, -HALF + 1, 0, -1]  # the extremes of (−t/2, t/2]
    return m


@pytest.mark.parametrize("fixture", ["keys_n64", "keys_n256"])
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 3))
def test_round_trip_full_range(fixture, seed, k, request):
    sk, pk = request.getfixturevalue(fixture)
    m = random_plaintext(np.random.default_rng(seed), k, pk.params.n)
    ct = encrypt(pk, m)
    assert len(ct) == k and ct.data.shape == (k, 2, 3, pk.params.n)
    assert np.array_equal(decrypt(sk, ct), m)


@pytest.mark.slow
def test_round_trip_default(keys_default):
    sk, pk = keys_default
    m = random_plaintext(np.random.default_rng(7), 2, DEFAULT.n)
    ct, rand = encrypt_with_randomness(pk, m)
    assert np.array_equal(decrypt(sk, ct), m)
    got, report = decrypt_with_noise(sk, ct, expected=m)
    assert np.array_equal(got, m) and report.decrypts_correctly
    assert report.max_abs_noise < 2**13  # fresh noise ≈ 2^10 against Δ/2 ≈ 2^57
    # the invariant noise also carries (q mod t)·m ≤ 2^63 (in units of 1/t): > 25 bits left
    assert report.budget_bits > 25


def test_plaintext_range_checked(keys_n64):
    _, pk = keys_n64
    with pytest.raises(ValueError):
        encrypt(pk, np.full((1, 64), -HALF, np.int64))
    with pytest.raises(ValueError):
        encrypt(pk, np.full((1, 64), HALF + 1, np.int64))
    with pytest.raises(ValueError):
        encrypt(pk, np.zeros((64,), np.int64))
    with pytest.raises(ValueError):
        encrypt(pk, np.zeros((1, 32), np.int64))


@given(seed=st.integers(0, 2**32 - 1), c=st.integers(-(2**40), 2**40))
def test_homomorphic_add_sum_scalar(keys_n256, seed, c):
    sk, pk = keys_n256
    rng = np.random.default_rng(seed)
    ms = [random_plaintext(rng, 2, pk.params.n) for _ in range(3)]
    cts = [encrypt(pk, m) for m in ms]
    assert np.array_equal(decrypt(sk, add(cts[0], cts[1])), centred_mod_t(ms[0] + ms[1]))
    total = sum(m.astype(object) for m in ms)
    assert np.array_equal(decrypt(sk, sum_ciphertexts(cts)), centred_mod_t(total))
    assert np.array_equal(decrypt(sk, sum_ciphertexts(iter(cts))), centred_mod_t(total))
    small = rng.integers(-1000, 1000, (2, pk.params.n))
    assert np.array_equal(decrypt(sk, scalar_mul(encrypt(pk, small), c)),
                          centred_mod_t(small.astype(object) * c))


def test_add_rejects_mismatched(keys_n64, keys_n256):
    _, pk64 = keys_n64
    _, pk256 = keys_n256
    a = encrypt(pk64, np.zeros((1, 64), np.int64))
    b = encrypt(pk64, np.zeros((2, 64), np.int64))
    c = encrypt(pk256, np.zeros((1, 256), np.int64))
    for x, y in [(a, b), (a, c)]:
        with pytest.raises(ValueError):
            add(x, y)
    with pytest.raises(ValueError):
        sum_ciphertexts([])
    with pytest.raises(ValueError):
        decrypt(keys_n256[0], a)
    with pytest.raises(ValueError):
        Ciphertexts(INSECURE_N64, np.zeros((1, 2, 3, 32), np.int64))


@pytest.mark.slow
def test_sum_of_1024_maximal_encryptions_is_exact(keys_default):
    """1024 clients, each coefficient ±floor((t/2 − 1)/1024): the sum decrypts exactly.

    Eight distinct encryptions are reused 128 times each; reuse makes their noise add
    coherently (128·e rather than √128·e), a harsher case than 1024 fresh ones.
    """
    sk, pk = keys_default
    n, clients, distinct = DEFAULT.n, 1024, 8
    bmax = (HALF - 1) // clients
    rng = np.random.default_rng(1024)
    ms = [np.where(rng.integers(0, 2, (1, n)) == 1, bmax, -bmax).astype(np.int64)
          for _ in range(distinct)]
    ms[0][0, :] = bmax  # one all-maximal coordinate direction: sum hits ±1024·bmax
    ms[1][0, :] = bmax
    ms[2][0, :5] = bmax
    cts = [encrypt(pk, m) for m in ms]
    agg = sum_ciphertexts(cts[i % distinct] for i in range(clients))
    expected = sum(ms) * (clients // distinct)
    assert np.abs(expected).max() < HALF
    assert np.array_equal(decrypt(sk, agg), expected)
    got, report = decrypt_with_noise(sk, agg, expected=expected)
    assert np.array_equal(got, expected) and report.decrypts_correctly


def _expected_noise(sk, pk, rand: EncryptionRandomness):
    """v = −e·u + e1 + e2·s over Z, with e recovered from pk = (−(a·s + e), a)."""
    r = ring_of(pk.params)
    as_ = r.mul(pk.p1, r.from_int(sk.s))
    e = r.centered_small(r.neg(r.add(pk.p0, as_)))
    assert np.abs(e).max() <= pk.params.error_eta
    out = []
    for u, e1, e2 in zip(rand.u, rand.e1, rand.e2, strict=True):
        eu = negacyclic_int(list(e), list(u))
        e2s = negacyclic_int(list(e2), list(sk.s))
        out.append([-x + int(y) + z for x, y, z in zip(eu, e1, e2s, strict=True)])
    return np.array(out, dtype=object)


def test_noise_report_matches_independent_computation(keys_n64):
    sk, pk = keys_n64
    m = random_plaintext(np.random.default_rng(3), 2, 64)
    ct, rand = encrypt_with_randomness(pk, m)
    v = _expected_noise(sk, pk, rand)
    got, report = decrypt_with_noise(sk, ct, expected=m)
    assert np.array_equal(got, m)
    assert report.max_abs_noise == int(np.abs(v).max())
    assert report.decrypts_correctly and report.max_abs_noise < 2**12
    # also relative to the decrypted value (same here, decryption being correct)
    _, report2 = decrypt_with_noise(sk, ct)
    assert report2.max_abs_noise == report.max_abs_noise


def _one_hot_randomness(k, n, e1_value):
    z = np.zeros((k, n), np.int64)
    e1 = z.copy()
    e1[0, 5] = e1_value
    return EncryptionRandomness(u=z, e1=e1, e2=z)


@pytest.mark.parametrize("params_fixture", ["keys_n64", "keys_default"])
def test_noise_just_past_half_delta_breaks_decryption(params_fixture, request):
    sk, pk = request.getfixturevalue(params_fixture)
    params = pk.params
    delta = params.delta
    m = np.zeros((1, params.n), np.int64)
    # For m = 0, decryption round(t·v/q) is 0 iff |v| < q/(2t) = Δ/2 + (q mod t)/(2t),
    # i.e. iff |v| ≤ floor(q/(2t)) (q is odd, so q/(2t) is not an integer).
    edge = params.q // (2 * params.t)
    assert delta // 2 <= edge <= delta // 2 + 1
    below = _one_hot_randomness(1, params.n, edge)
    above = _one_hot_randomness(1, params.n, edge + 1)

    ok = encrypt_deterministic(pk, m, below)
    got, report = decrypt_with_noise(sk, ok, expected=m)
    assert np.array_equal(got, m) and report.decrypts_correctly
    assert report.max_abs_noise == edge
    assert 0 < report.budget_bits < 1e-6  # right at the edge

    bad = encrypt_deterministic(pk, m, above)
    got = decrypt(sk, bad)
    assert got[0, 5] == 1 and np.count_nonzero(got) == 1  # rounded up to the next multiple of Δ
    got2, report = decrypt_with_noise(sk, bad, expected=m)
    assert np.array_equal(got2, got)
    assert not report.decrypts_correctly and report.budget_bits <= 0
    assert report.max_abs_noise == edge + 1 > delta // 2
    # measured against the (wrong) decrypted value, the phase is close to Δ·1 again
    _, rel = decrypt_with_noise(sk, bad)
    assert rel.max_abs_noise < delta // 2


def test_negative_noise_past_half_delta(keys_n64):
    sk, pk = keys_n64
    m = np.zeros((1, 64), np.int64)
    bad = encrypt_deterministic(pk, m, _one_hot_randomness(1, 64, -(pk.params.delta // 2) - 10))
    assert decrypt(sk, bad)[0, 5] == -1
    assert not decrypt_with_noise(sk, bad, expected=m)[1].decrypts_correctly


def test_encrypt_deterministic_is_deterministic(keys_n64):
    _, pk = keys_n64
    m = random_plaintext(np.random.default_rng(1), 1, 64)
    ct, rand = encrypt_with_randomness(pk, m)
    assert np.array_equal(encrypt_deterministic(pk, m, rand).data, ct.data)
    assert np.abs(rand.u).max() <= 1
    assert np.abs(rand.e1).max() <= 21 and np.abs(rand.e2).max() <= 21


def test_fresh_randomness():
    sk1, pk1 = keygen(INSECURE_N64)
    sk2, pk2 = keygen(INSECURE_N64)
    assert not np.array_equal(sk1.s, sk2.s) and not np.array_equal(pk1.p1, pk2.p1)
    assert pk1.digest != pk2.digest
    m = np.zeros((1, 64), np.int64)
    c1, r1 = encrypt_with_randomness(pk1, m)
    c2, r2 = encrypt_with_randomness(pk1, m)
    assert not np.array_equal(c1.data, c2.data) and not np.array_equal(r1.u, r2.u)
    # seeded generators reproduce keys exactly
    a = keygen(INSECURE_N64, Csprng.from_seed(b"s", b"k"))
    b = keygen(INSECURE_N64, Csprng.from_seed(b"s", b"k"))
    assert np.array_equal(a[0].s, b[0].s) and a[1].digest == b[1].digest


def test_secret_key_is_ternary_and_pk_in_range(keys_n256):
    sk, pk = keys_n256
    assert set(np.unique(sk.s)) <= {-1, 0, 1}
    p = np.array(INSECURE_N256.primes)[:, None]
    for part in (pk.p0, pk.p1):
        assert part.shape == (3, 256) and part.min() >= 0 and np.all(part < p)


def test_key_error_is_recovered_and_within_a_key(keys_n256, keys_default):
    sk, pk = keys_n256
    e = key_error(sk, pk)
    for j, p in enumerate(INSECURE_N256.primes):  # naive twin: schoolbook mod every prime
        prod = negacyclic_int(pk.p1[j], sk.s)
        want = [-(int(x) + y) % p for x, y in zip(pk.p0[j], prod, strict=True)]
        assert [int(x) % p for x in e] == want
    for sk, pk in (keys_n256, keys_default):
        e = key_error(sk, pk)
        assert e.shape == (sk.params.n,)
        assert float(np.dot(e, e)) <= sk.params.error_norm_bound(sk.params.n) ** 2
        assert np.abs(e).max() <= sk.params.error_eta
        check_key_pair(sk, pk)
    # default set: ‖e‖ ≈ √(10.5·4096) ≈ 207, bound ≈ 233
    assert 225 < DEFAULT.error_norm_bound(DEFAULT.n) < 240


def test_key_pair_check_refuses_foreign_public_key(keys_n256):
    sk, _ = keys_n256
    _, other = keygen(INSECURE_N256, Csprng.from_seed(b"bfv-tests", b"other"))
    with pytest.raises(ValueError, match="does not belong|A-key"):
        check_key_pair(sk, other)


def test_keygen_resamples_an_error_above_the_a_key_bound(monkeypatch):
    """The first error drawn is far too large; keygen must discard it (A-key holds for
    every key it returns, not only with high probability)."""
    real = ring_sampling.centered_binomial
    calls = []

    def first_large(rng, eta, shape):
        calls.append(shape)
        e = real(rng, eta, shape)
        return e * 8 if len(calls) == 1 else e

    import zkflpq.bfv.scheme as scheme

    monkeypatch.setattr(scheme, "centered_binomial", first_large)
    sk, pk = keygen(INSECURE_N256, Csprng.from_seed(b"bfv-tests", b"a-key"))
    assert len(calls) == 2
    check_key_pair(sk, pk)


@given(seed=st.integers(0, 2**32 - 1), offset=st.integers(-(2**12), 2**12))
def test_decrypt_is_exact_rounding_even_at_the_boundary(keys_n64, seed, offset):
    """With c1 = 0, decrypt(c) = round(t·[c0]_q/q) mod t: compare with Python integers on
    phases spread uniformly and phases within a few units of the rounding boundaries."""
    sk, _ = keys_n64
    params = INSECURE_N64
    q, t, n = params.q, params.t, params.n
    rng = np.random.default_rng(seed)
    uniform = [int(v) for v in rng.integers(0, 2**62, n)]
    uniform = [(v * (2**30) + int(w)) % q for v, w in zip(uniform, rng.integers(0, 2**30, n),
                                                           strict=True)]
    # boundaries of the rounding: x·t/q = j + 1/2  ⇔  x ≈ (2j+1)·q/(2t)
    js = [int(j) for j in rng.integers(-(2**31), 2**31, n)]
    edges = [((2 * j + 1) * q // (2 * t) + offset + int(d)) % q
             for j, d in zip(js, rng.integers(-2, 3, n), strict=True)]
    for xs in (uniform, edges):
        c0 = ring_of(params).basis.reduce_bigint(np.array(xs, dtype=object))
        ct = Ciphertexts(params, np.stack([c0, np.zeros_like(c0)])[None])
        got = decrypt(sk, ct)[0]
        expect = []
        for x in xs:
            xc = x - q if x > q // 2 else x
            mm = ((2 * t * xc + q) // (2 * q)) % t  # round(t·x/q), never a tie (q odd)
            expect.append(mm - t if mm > t // 2 else mm)
        assert [int(v) for v in got] == expect
