"""BFV: correctness, homomorphisms, exact noise accounting, and the 1024-client sum."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ring_naive import negacyclic_mul

from zkflpq.bfv import (
    DEFAULT,
    INSECURE_N64,
    INSECURE_N256,
    Ciphertexts,
    EncryptionRandomness,
    SecretKey,
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

T = 2**34  # every preset uses t = 2^34
HALF = T // 2


def centred_mod_t(x):
    x = np.asarray(x, dtype=object) % T
    return np.where(x > HALF, x - T, x).astype(np.int64)


def random_plaintext(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    m = rng.integers(-HALF + 1, HALF + 1, (k, n), dtype=np.int64)
    m[0, :4] = [HALF, -HALF + 1, 0, -1]  # the extremes of (−t/2, t/2]
    return m


@pytest.mark.parametrize("fixture", ["keys_n64", "keys_n256"])
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 9))
def test_round_trip_full_range(fixture, seed, k, request):
    sk, pk = request.getfixturevalue(fixture)
    m = random_plaintext(np.random.default_rng(seed), k, pk.params.n)
    ct = encrypt(pk, m)
    g = -(-k // pk.params.components)
    assert len(ct) == k and ct.groups == g
    assert ct.c0.shape == (k, 3, pk.params.n) and ct.c1.shape == (g, 3, pk.params.n)
    assert np.array_equal(decrypt(sk, ct), m)


@pytest.mark.slow
def test_round_trip_default(keys_default):
    sk, pk = keys_default
    m = random_plaintext(np.random.default_rng(7), 9, DEFAULT.n)  # 8 + a partial group
    ct, rand = encrypt_with_randomness(pk, m)
    assert np.array_equal(decrypt(sk, ct), m)
    got, report = decrypt_with_noise(sk, ct, expected=m)
    assert np.array_equal(got, m) and report.decrypts_correctly
    assert report.max_abs_noise < 2**13  # fresh noise ≈ 2^10 against Δ/2 = 2^46
    # the invariant noise also carries (q mod t)·m ≈ 2^33.5·2^33 (in units of 1/t), so
    # with q ≈ 2^81 about log2(q/2) − 66.5 ≈ 13.5 bits are left
    assert report.budget_bits > 12


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


# |c| ≤ 2^32: c·v ≈ 2^40 and (q mod t)·c·m/t ≈ 2^42 stay below Δ/2 = 2^46 (q ≈ 2^81, t = 2^34)
@given(seed=st.integers(0, 2**32 - 1), c=st.integers(-(2**32), 2**32))
def test_homomorphic_add_sum_scalar(keys_n256, seed, c):
    sk, pk = keys_n256
    rng = np.random.default_rng(seed)
    ms = [random_plaintext(rng, 5, pk.params.n) for _ in range(3)]  # L' = 4: 4 + 1
    cts = [encrypt(pk, m) for m in ms]
    assert np.array_equal(decrypt(sk, add(cts[0], cts[1])), centred_mod_t(ms[0] + ms[1]))
    total = sum(m.astype(object) for m in ms)
    assert np.array_equal(decrypt(sk, sum_ciphertexts(cts)), centred_mod_t(total))
    assert np.array_equal(decrypt(sk, sum_ciphertexts(iter(cts))), centred_mod_t(total))
    small = rng.integers(-1000, 1000, (5, pk.params.n))
    assert np.array_equal(decrypt(sk, scalar_mul(encrypt(pk, small), c)),
                          centred_mod_t(small.astype(object) * c))


def test_add_rejects_mismatched(keys_n64, keys_n256):
    _, pk64 = keys_n64
    _, pk256 = keys_n256
    a = encrypt(pk64, np.zeros((1, 64), np.int64))
    b = encrypt(pk64, np.zeros((2, 64), np.int64))  # same group count, other k
    c = encrypt(pk256, np.zeros((1, 256), np.int64))
    d = encrypt(pk64, np.zeros((4, 64), np.int64))  # other group count
    for x, y in [(a, b), (b, a), (a, c), (a, d), (b, d)]:
        with pytest.raises(ValueError):
            add(x, y)
        with pytest.raises(ValueError):
            sum_ciphertexts([x, y])
    with pytest.raises(ValueError):
        sum_ciphertexts([])
    with pytest.raises(ValueError):
        decrypt(keys_n256[0], a)
    z = np.zeros((1, 3, 64), np.int64)
    for c0, c1 in [(np.zeros((1, 3, 32), np.int64), np.zeros((1, 3, 32), np.int64)),
                   (np.zeros((4, 3, 64), np.int64), z),  # 4 chunks need 2 groups
                   (z, np.zeros((2, 3, 64), np.int64)),
                   (np.zeros((0, 3, 64), np.int64), np.zeros((0, 3, 64), np.int64)),
                   (np.zeros((1, 2, 3, 64), np.int64), z),  # v2's (k, 2, L, N) layout
                   (np.zeros((1, 2, 64), np.int64), np.zeros((1, 2, 64), np.int64))]:
        with pytest.raises(ValueError):
            Ciphertexts(INSECURE_N64, c0, c1)


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
    """v_i = e1_i + e2_g·s_j − e_j·u_g over Z (g = i div L', j = i mod L'), with e_j
    recovered from b_j = −(a·s_j + e_j) by schoolbook products mod each prime."""
    params = pk.params
    comps = params.components
    errors = []
    for j in range(comps):
        rows = []
        for li, p in enumerate(params.primes):
            prod = negacyclic_mul(pk.a[li], sk.s[j])
            rows.append([-(int(b) + x) % p for b, x in zip(pk.b[j, li], prod, strict=True)])
        e = ring_of(params).centered_small(np.array(rows, np.int64))
        assert np.abs(e).max() <= params.error_eta
        errors.append(e)
    out = []
    for i, e1 in enumerate(rand.e1):
        g, j = divmod(i, comps)
        eu = negacyclic_mul(list(errors[j]), list(rand.u[g]))
        e2s = negacyclic_mul(list(rand.e2[g]), list(sk.s[j]))
        out.append([-x + int(y) + z for x, y, z in zip(eu, e1, e2s, strict=True)])
    return np.array(out, dtype=object)


def test_noise_report_matches_independent_computation(keys_n64):
    sk, pk = keys_n64
    m = random_plaintext(np.random.default_rng(3), 5, 64)  # L' = 3: groups of 3 and 2
    ct, rand = encrypt_with_randomness(pk, m)
    v = _expected_noise(sk, pk, rand)
    got, report = decrypt_with_noise(sk, ct, expected=m)
    assert np.array_equal(got, m)
    assert report.max_abs_noise == int(np.abs(v).max())
    assert report.decrypts_correctly and report.max_abs_noise < 2**12
    # each chunk separately: its own s_j, its own group's (u, e2)
    for i in range(5):
        one = Ciphertexts(pk.params, ct.c0[i:i + 1], ct.c1[i // 3:i // 3 + 1])
        comp = SecretKey(pk.params, np.roll(sk.s, -(i % 3), axis=0))  # s_j in row 0
        _, r1 = decrypt_with_noise(comp, one, expected=m[i:i + 1])
        assert r1.max_abs_noise == int(np.abs(v[i]).max())
    # also relative to the decrypted value (same here, decryption being correct)
    _, report2 = decrypt_with_noise(sk, ct)
    assert report2.max_abs_noise == report.max_abs_noise


def _one_hot_randomness(k, n, e1_value, comps=1, chunk=0):
    g = -(-k // comps)
    z = np.zeros((g, n), np.int64)
    e1 = np.zeros((k, n), np.int64)
    e1[chunk, 5] = e1_value
    return EncryptionRandomness(u=z, e1=e1, e2=z.copy())


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
    # the same in the last chunk of a second, partial group (k = 5, L' = 3)
    m5 = np.zeros((5, 64), np.int64)
    rand = _one_hot_randomness(5, 64, -(pk.params.delta // 2) - 10, comps=3, chunk=4)
    got = decrypt(sk, encrypt_deterministic(pk, m5, rand))
    assert got[4, 5] == -1 and np.count_nonzero(got) == 1


def test_encrypt_deterministic_is_deterministic(keys_n64):
    _, pk = keys_n64
    m = random_plaintext(np.random.default_rng(1), 4, 64)
    ct, rand = encrypt_with_randomness(pk, m)
    again = encrypt_deterministic(pk, m, rand)
    assert np.array_equal(again.c0, ct.c0) and np.array_equal(again.c1, ct.c1)
    # (u, e2) per group, e1 per chunk
    assert rand.u.shape == rand.e2.shape == (2, 64) and rand.e1.shape == (4, 64)
    assert np.abs(rand.u).max() <= 1
    assert np.abs(rand.e1).max() <= 21 and np.abs(rand.e2).max() <= 21
    # v2-style randomness (one (u, e2) per chunk) does not fit the groups
    per_chunk = EncryptionRandomness(u=np.zeros((4, 64), np.int64), e1=rand.e1,
                                     e2=np.zeros((4, 64), np.int64))
    with pytest.raises(ValueError, match="randomness"):
        encrypt_deterministic(pk, m, per_chunk)
    with pytest.raises(ValueError, match="randomness"):
        encrypt_deterministic(pk, m, EncryptionRandomness(rand.u, rand.e1[:3], rand.e2))


def test_fresh_randomness():
    sk1, pk1 = keygen(INSECURE_N64)
    sk2, pk2 = keygen(INSECURE_N64)
    assert not np.array_equal(sk1.s, sk2.s) and not np.array_equal(pk1.a, pk2.a)
    assert not np.array_equal(pk1.b, pk2.b)
    assert pk1.digest != pk2.digest
    m = np.zeros((4, 64), np.int64)
    c1, r1 = encrypt_with_randomness(pk1, m)
    c2, r2 = encrypt_with_randomness(pk1, m)
    assert not np.array_equal(c1.c0, c2.c0) and not np.array_equal(c1.c1, c2.c1)
    assert not np.array_equal(r1.u, r2.u)
    assert not np.array_equal(r1.u[0], r1.u[1])  # groups draw independent u
    # seeded generators reproduce keys exactly
    a = keygen(INSECURE_N64, Csprng.from_seed(b"s", b"k"))
    b = keygen(INSECURE_N64, Csprng.from_seed(b"s", b"k"))
    assert np.array_equal(a[0].s, b[0].s) and a[1].digest == b[1].digest


def test_secret_key_is_ternary_and_pk_in_range(keys_n256):
    sk, pk = keys_n256
    assert sk.s.shape == (4, 256) and set(np.unique(sk.s)) <= {-1, 0, 1}
    # independent secrets, one per component
    assert len({row.tobytes() for row in sk.s}) == 4
    p = np.array(INSECURE_N256.primes)[:, None]
    assert pk.a.shape == (3, 256) and pk.b.shape == (4, 3, 256)
    for part in (pk.a, *pk.b):
        assert part.min() >= 0 and np.all(part < p)
    with pytest.raises(ValueError):
        type(pk)(INSECURE_N256, pk.a, pk.b[:3])  # L' − 1 components


def test_key_error_is_recovered_and_within_a_key(keys_n256, keys_default):
    sk, pk = keys_n256
    e = key_error(sk, pk)
    assert e.shape == (4, 256)
    for c in range(INSECURE_N256.components):  # naive twin: schoolbook mod every prime
        for j, p in enumerate(INSECURE_N256.primes):
            prod = negacyclic_mul(pk.a[j], sk.s[c])
            want = [-(int(x) + y) % p for x, y in zip(pk.b[c, j], prod, strict=True)]
            assert [int(x) % p for x in e[c]] == want
    assert len({row.tobytes() for row in e}) == 4  # an error per component
    for sk, pk in (keys_n256, keys_default):
        e = key_error(sk, pk)
        assert e.shape == (sk.params.components, sk.params.n)
        for ej in e:
            assert float(np.dot(ej, ej)) <= sk.params.error_norm_bound(sk.params.n) ** 2
        assert np.abs(e).max() <= sk.params.error_eta
        check_key_pair(sk, pk)
    # default set: ‖e_j‖ ≈ √(10.5·4096) ≈ 207, bound ≈ 233
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
    assert len(calls) == INSECURE_N256.components + 1  # one error per b_j, one redrawn
    check_key_pair(sk, pk)


def test_keygen_resamples_a_later_component_error(monkeypatch):
    """The A-key bound holds for every e_j, not only the first."""
    real = ring_sampling.centered_binomial
    calls = []

    def third_large(rng, eta, shape):
        calls.append(shape)
        e = real(rng, eta, shape)
        return e * 8 if len(calls) == 3 else e

    import zkflpq.bfv.scheme as scheme

    monkeypatch.setattr(scheme, "centered_binomial", third_large)
    sk, pk = keygen(INSECURE_N256, Csprng.from_seed(b"bfv-tests", b"a-key-3"))
    assert len(calls) == INSECURE_N256.components + 1
    check_key_pair(sk, pk)
    assert np.abs(key_error(sk, pk)).max() <= INSECURE_N256.error_eta


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
        ct = Ciphertexts(params, c0[None], np.zeros_like(c0)[None])
        got = decrypt(sk, ct)[0]
        expect = []
        for x in xs:
            xc = x - q if x > q // 2 else x
            mm = ((2 * t * xc + q) // (2 * q)) % t  # round(t·x/q), never a tie (q odd)
            expect.append(mm - t if mm > t // 2 else mm)
        assert [int(v) for v in got] == expect
