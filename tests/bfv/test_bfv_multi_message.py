"""Multi-message BFV (proof v3): chunk i is component j = i mod L' of group g = i div L',
shares (u_g, e2_g, c1_g) with its group and decrypts with its own secret s_j."""

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
    SecretKey,
    add,
    decrypt,
    decrypt_with_noise,
    encrypt,
    encrypt_deterministic,
    encrypt_with_randomness,
    ring_of,
    scalar_mul,
    sum_ciphertexts,
)
from zkflpq.bfv.scheme import sample_randomness
from zkflpq.ring import Csprng

T = 2**34  # every preset uses t = 2^34
HALF = T // 2


def plaintext(seed: int, k: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-HALF + 1, HALF + 1, (k, n), dtype=np.int64)


def centred_mod_t(x):
    x = np.asarray(x, dtype=object) % T
    return np.where(x > HALF, x - T, x).astype(np.int64)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7])
def test_partial_last_group_round_trip(keys_n64, k):
    sk, pk = keys_n64
    comps = INSECURE_N64.components  # 3: k = 4, 5, 7 end in a partial group
    m = plaintext(k, k, 64)
    ct = encrypt(pk, m)
    assert len(ct) == k and ct.groups == INSECURE_N64.groups(k) == -(-k // comps)
    assert ct.component_of().tolist() == [i % comps for i in range(k)]
    assert ct.group_of().tolist() == [i // comps for i in range(k)]
    assert np.array_equal(decrypt(sk, ct), m)


def test_encryption_equations_against_naive_twin(keys_n64):
    """c1_g = a·u_g + e2_g and c0_i = b_{j(i)}·u_{g(i)} + e1_i + Δ·m_i, per prime, with
    schoolbook products: each chunk uses its component's b_j and its group's u."""
    _, pk = keys_n64
    params = pk.params
    k = 5
    m = plaintext(11, k, params.n)
    ct, rand = encrypt_with_randomness(pk, m, Csprng.from_seed(b"mm", b"naive"))
    for li, p in enumerate(params.primes):
        for g in range(ct.groups):
            au = negacyclic_mul(pk.a[li], rand.u[g], p)
            want = [(x + int(e)) % p for x, e in zip(au, rand.e2[g], strict=True)]
            assert [int(v) for v in ct.c1[g, li]] == want
        for i in range(k):
            g, j = divmod(i, params.components)
            bu = negacyclic_mul(pk.b[j, li], rand.u[g], p)
            want = [(x + int(e) + params.delta * int(mi)) % p
                    for x, e, mi in zip(bu, rand.e1[i], m[i], strict=True)]
            assert [int(v) for v in ct.c0[i, li]] == want


def test_each_chunk_decrypts_with_its_own_secret(keys_n64):
    sk, pk = keys_n64
    params = pk.params
    comps, k = params.components, 7
    m = plaintext(5, k, params.n)
    ct = encrypt(pk, m)
    # a cyclic permutation moves every s_j to another component: no chunk decrypts
    for perm in ([1, 2, 0], [2, 0, 1]):
        wrong = decrypt(SecretKey(params, sk.s[perm]), ct)
        for i in range(k):
            assert not np.array_equal(wrong[i], m[i])
            assert np.count_nonzero(wrong[i] == m[i]) < params.n // 4
    # a transposition of s_1, s_2 leaves the chunks of component 3 intact, and only them
    swapped = decrypt(SecretKey(params, sk.s[[1, 0, 2]]), ct)
    for i in range(k):
        assert np.array_equal(swapped[i], m[i]) == (i % comps == 2)
    # replacing one secret breaks exactly that component's chunks, in every group
    for j in range(comps):
        s = sk.s.copy()
        s[j] = -s[j]
        got = decrypt(SecretKey(params, s), ct)
        for i in range(k):
            assert np.array_equal(got[i], m[i]) == (i % comps != j)


def test_chunks_of_a_group_share_c1_and_groups_do_not(keys_n64):
    _, pk = keys_n64
    params = pk.params
    m = np.zeros((4, params.n), np.int64)
    rand = sample_randomness(params, 4, Csprng.from_seed(b"mm", b"share"))
    ct = encrypt_deterministic(pk, m, rand)
    # changing the second group's u changes c1[1] and c0[3] only
    u = rand.u.copy()
    u[1] = -u[1]
    other = encrypt_deterministic(pk, m, type(rand)(u=u, e1=rand.e1, e2=rand.e2))
    assert np.array_equal(other.c1[0], ct.c1[0]) and not np.array_equal(other.c1[1], ct.c1[1])
    assert np.array_equal(other.c0[:3], ct.c0[:3]) and not np.array_equal(other.c0[3], ct.c0[3])


def test_sum_of_k_max_maximal_fresh_encryptions_is_exact(keys_n64):
    """K_max = 1000 clients, each chunk at the largest ‖m‖_∞ with K_max·B < t/2: the sum
    of 1000 fresh encryptions decrypts exactly, with a positive invariant-noise budget."""
    sk, pk = keys_n64
    params = pk.params
    clients, k = 1000, 4  # two groups at L' = 3, the second partial
    bmax = (HALF - 1) // clients
    assert params.max_clients(bmax) == clients  # the largest bound K_max = 1000 allows
    rng = np.random.default_rng(1000)
    signs = rng.integers(0, 2, (clients, k, params.n))
    ms = np.where(signs == 1, bmax, -bmax).astype(np.int64)
    ms[:, 0, :3] = bmax  # coordinates where all clients agree: the sum hits ±K_max·B
    ms[:, 3, -2:] = -bmax
    assert np.abs(ms).max() == bmax
    enc_rng = Csprng.from_seed(b"mm", b"k-max")
    agg = sum_ciphertexts(encrypt(pk, ms[c], enc_rng) for c in range(clients))
    expected = ms.sum(axis=0)
    assert np.abs(expected).max() == clients * bmax < HALF
    assert np.array_equal(decrypt(sk, agg), expected)
    got, report = decrypt_with_noise(sk, agg, expected=expected)
    assert np.array_equal(got, expected) and report.decrypts_correctly
    # ≈ 13.5 bits: log2(q/2) − log2((q mod t)·K_max·B) with q mod t ≈ 2^33.5 and
    # K_max·B ≈ t/2 = 2^33, the noise itself (≈ 2^11) being negligible next to Δ/2 = 2^46
    assert report.budget_bits > 12
    assert report.max_abs_noise < 2**14


def test_homomorphic_add_is_per_group_and_component(keys_n64):
    sk, pk = keys_n64
    params = pk.params
    r = ring_of(params)
    k = 5
    ma, mb = plaintext(1, k, params.n), plaintext(2, k, params.n)
    a, b = encrypt(pk, ma), encrypt(pk, mb)
    s = add(a, b)
    assert len(s) == k and s.groups == a.groups
    for i in range(k):
        assert np.array_equal(s.c0[i], r.add(a.c0[i], b.c0[i]))
    for g in range(a.groups):
        assert np.array_equal(s.c1[g], r.add(a.c1[g], b.c1[g]))
    assert np.array_equal(decrypt(sk, s), centred_mod_t(ma.astype(object) + mb))
    total = sum_ciphertexts([a, b, a])
    assert np.array_equal(total.c0, r.add(s.c0, a.c0))
    assert np.array_equal(total.c1, r.add(s.c1, a.c1))
    small = np.random.default_rng(3).integers(-1000, 1000, (k, params.n))
    assert np.array_equal(decrypt(sk, scalar_mul(encrypt(pk, small), -7)), small * -7)


@pytest.mark.parametrize("ka,kb", [(1, 2), (2, 3), (3, 4), (4, 6), (6, 5)])
def test_add_of_different_chunk_counts_raises(keys_n64, ka, kb):
    _, pk = keys_n64
    a = encrypt(pk, np.zeros((ka, 64), np.int64))
    b = encrypt(pk, np.zeros((kb, 64), np.int64))
    with pytest.raises(ValueError, match="chunk counts"):
        add(a, b)
    with pytest.raises(ValueError, match="chunk counts"):
        sum_ciphertexts([a, a, b])


def test_add_across_component_counts_raises(keys_n64):
    """Same N and primes but another L': the chunks would not line up with the keys."""
    from zkflpq.bfv import BfvParams, keygen

    other = BfvParams(name="INSECURE-l4-n64", n=64, primes=INSECURE_N64.primes, t=T,
                      components=4, insecure=True)
    _, pk4 = keygen(other, Csprng.from_seed(b"mm", b"l4"))
    _, pk3 = keys_n64
    a = encrypt(pk3, np.zeros((4, 64), np.int64))
    b = encrypt(pk4, np.zeros((4, 64), np.int64))
    assert a.groups == 2 and b.groups == 1
    with pytest.raises(ValueError):
        add(a, b)


@pytest.mark.parametrize("fixture", ["keys_n64", "keys_n256"])
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 13), j=st.integers(0, 63))
def test_multi_message_properties(fixture, seed, k, j, request):
    """Round trip for any k; a secret with one component changed fails on exactly the
    chunks of that component."""
    sk, pk = request.getfixturevalue(fixture)
    params = pk.params
    comps = params.components
    j %= comps
    m = plaintext(seed, k, params.n)
    ct = encrypt(pk, m, Csprng.from_seed(seed.to_bytes(4, "little"), b"mm-prop"))
    assert ct.groups == -(-k // comps)
    assert np.array_equal(decrypt(sk, ct), m)
    s = sk.s.copy()
    s[j] = np.roll(s[j], 1)
    got = decrypt(SecretKey(params, s), ct)
    for i in range(k):
        assert np.array_equal(got[i], m[i]) == (i % comps != j)


@pytest.mark.slow
def test_default_partial_group_round_trip_and_wrong_component(keys_default):
    sk, pk = keys_default
    k = 10  # one full group of 8 and a partial one of 2
    m = plaintext(9, k, DEFAULT.n)
    ct = encrypt(pk, m)
    assert ct.groups == 2 and ct.c1.shape == (2, 3, DEFAULT.n)
    got, report = decrypt_with_noise(sk, ct, expected=m)
    assert np.array_equal(got, m) and report.decrypts_correctly
    perm = list(range(1, 8)) + [0]
    wrong = decrypt(SecretKey(DEFAULT, sk.s[perm]), ct)
    assert all(not np.array_equal(wrong[i], m[i]) for i in range(k))


def test_insecure_n256_groups_of_four(keys_n256):
    sk, pk = keys_n256
    m = plaintext(4, 9, INSECURE_N256.n)
    ct = encrypt(pk, m)
    assert ct.groups == 3 and ct.group_of().tolist() == [0] * 4 + [1] * 4 + [2]
    assert np.array_equal(decrypt(sk, ct), m)
