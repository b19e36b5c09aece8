"""Parameter-set validation and the HE-standard check."""

from __future__ import annotations

import pytest

from zkflpq.bfv import (
    DEFAULT,
    HE_STANDARD_MAX_LOGQ_128,
    INSECURE_N64,
    INSECURE_N256,
    PRESETS,
    BfvParams,
    get_params,
)
from zkflpq.bfv import params as params_module
from zkflpq.ring import is_prime, ntt_primes
from zkflpq.ring.primes import split_count, splitting_primes

P64 = splitting_primes(64, 27, 3)


def _prime_below(bound: int, residue: int, modulus: int) -> int:
    p = bound - 1 - (bound - 1 - residue) % modulus
    while not is_prime(p):
        p -= modulus
    return p


P_3_MOD_8 = _prime_below(2**27, 3, 8)  # two factors as well, but not X^{N/2} − r ones
P_7_MOD_8 = _prime_below(2**27, 7, 8)
P_9_MOD_16 = _prime_below(2**27, 9, 16)  # four factors
P_NTT = ntt_primes(64, 27, 1)[0]  # fully splitting (p ≡ 1 mod 2N): v2's kind of prime
P_ABOVE = next(p for p in range(2**31 + 5, 2**31 + 10**4, 8) if is_prime(p))


def test_default_passes_he_standard():
    assert DEFAULT.n == 4096 and len(DEFAULT.primes) == 3 and DEFAULT.t == 2**34
    assert DEFAULT.he_standard_ok()
    assert DEFAULT.log2_q <= HE_STANDARD_MAX_LOGQ_128[4096]
    assert DEFAULT.estimated_security_bits() >= 128
    assert DEFAULT.error_sigma >= 3.19
    assert not DEFAULT.insecure
    assert DEFAULT.name == "zkflpq-bfv3-n4096-q81-t34-l8" and DEFAULT.components == 8
    assert DEFAULT.primes == (134217613, 134217541, 134217509)
    assert 80.9 < DEFAULT.log2_q < 81 and DEFAULT.split_factors == 2
    assert (INSECURE_N256.components, INSECURE_N64.components) == (4, 3)


def test_insecure_presets_are_marked_and_fail_the_standard():
    for params in PRESETS.values():
        if params is DEFAULT:
            continue
        assert params.insecure and params.name.startswith("INSECURE")
        assert not params.he_standard_ok()
        assert params.estimated_security_bits() < 128


@pytest.mark.parametrize("kwargs,msg", [
    (dict(primes=(P64[0], P64[0] - 8)), r"5 \(mod 8\)"),          # ≡ 5 mod 8, not prime
    (dict(primes=(P64[0], P_NTT)), r"5 \(mod 8\)"),               # NTT-friendly: refused
    (dict(primes=(P_NTT,)), r"5 \(mod 8\)"),
    (dict(primes=(193, 257)), r"5 \(mod 8\)"),                     # small NTT primes too
    (dict(primes=(P64[0], P_3_MOD_8)), r"5 \(mod 8\)"),
    (dict(primes=(P64[0], P_7_MOD_8)), r"5 \(mod 8\)"),
    (dict(primes=(P64[0], P_9_MOD_16)), r"5 \(mod 8\)"),
    (dict(primes=(P64[0], P64[0])), "distinct"),
    (dict(primes=()), "distinct"),
    (dict(primes=(P_ABOVE,)), r"5 \(mod 8\) below 2\^31"),          # prime ≡ 5 mod 8 ≥ 2^31
    (dict(components=0), "components"),
    (dict(components=65), "components"),
    (dict(components=-1), "components"),
    (dict(t=3 * 2**20), "power of two"),
    (dict(t=2**37), "for every prime p"),  # P64 are 27-bit primes: y_i·t would overflow int64
    (dict(t=1), "power of two"),
    (dict(n=48), "power of two"),
    (dict(n=8), "power of two"),
    (dict(error_eta=0), "error_eta"),
    (dict(error_eta=33), "error_eta"),
    (dict(name=""), "name"),
    (dict(name="x" * 65), "name"),
    (dict(insecure=False), "128-bit"),                           # n = 64 is nowhere near 128 bits
])
def test_bad_parameter_sets_rejected(kwargs, msg):
    assert not is_prime(P64[0] - 8) and P64[0] - 8 < P64[0] and (P64[0] - 8) % 8 == 5
    assert split_count(P_3_MOD_8, 64) == 2 and split_count(P_9_MOD_16, 64) == 4
    assert P_NTT % 128 == 1 and P_ABOVE % 8 == 5 and P_ABOVE > 2**31
    base = dict(name="test", n=64, primes=P64, t=2**32, insecure=True)
    base.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        BfvParams(**base)


def test_valid_edges_accepted():
    base = dict(name="test", n=64, primes=P64, t=2**32, insecure=True)
    for kwargs in (dict(), dict(components=1), dict(components=64), dict(n=16),
                   dict(primes=(P64[1],), t=2**16), dict(t=2), dict(t=2**35), dict(error_eta=1),
                   dict(error_eta=32), dict(name="x" * 64)):
        params = BfvParams(**{**base, **kwargs})
        assert params.split_factors == 2


def test_split_count_is_checked_besides_the_congruence(monkeypatch):
    # Redundant with p ≡ 5 (mod 8) in exact arithmetic; a second, independent check
    monkeypatch.setattr(params_module, "split_count", lambda p, n: 4)
    with pytest.raises(ValueError, match="two factors"):
        BfvParams(name="test", n=64, primes=P64, t=2**32, insecure=True)


def test_secure_set_below_128_bits_rejected():
    # N = 4096 with log2 q ≈ 124 > 109: outside the HE-standard table row
    primes = splitting_primes(4096, 31, 4)
    with pytest.raises(ValueError, match="128-bit"):
        BfvParams(name="too-big-q", n=4096, primes=primes, t=2**32)
    ok = BfvParams(name="too-big-q", n=4096, primes=primes, t=2**32, insecure=True)
    assert not ok.he_standard_ok()


def test_t_must_be_below_q():
    with pytest.raises(ValueError, match="smaller than q"):
        BfvParams(name="x", n=64, primes=splitting_primes(64, 17, 1), t=2**32, insecure=True)
    ok = BfvParams(name="x", n=64, primes=splitting_primes(64, 17, 1), t=2**16, insecure=True)
    assert ok.t < ok.q


def test_ids_are_distinct_and_stable():
    ids = {p.id_bytes for p in PRESETS.values()}
    assert len(ids) == len(PRESETS) and all(len(i) == 16 for i in ids)
    again = BfvParams(name=DEFAULT.name, n=DEFAULT.n, primes=DEFAULT.primes, t=DEFAULT.t)
    assert again.id_bytes == DEFAULT.id_bytes and again == DEFAULT
    other = BfvParams(name=INSECURE_N64.name, n=64, primes=INSECURE_N64.primes, t=2**31,
                      insecure=True)
    assert other.id_bytes != INSECURE_N64.id_bytes
    # the component count is part of the id: keys/ciphertexts of L' = 3 and 4 differ
    fewer = BfvParams(name=INSECURE_N64.name, n=64, primes=INSECURE_N64.primes, t=2**32,
                      components=4, insecure=True)
    assert fewer.id_bytes != INSECURE_N64.id_bytes


def test_delta_and_max_clients():
    assert DEFAULT.delta == DEFAULT.q // DEFAULT.t
    b = 327680
    k = DEFAULT.max_clients(b)
    assert k * b < DEFAULT.t // 2 <= (k + 1) * b
    # K_max ≥ 1000 at the default τ = 5, scale 2^14 (spec v3 §2)
    assert DEFAULT.max_clients(5 * 2**14) >= 1000
    assert get_params(DEFAULT.name) is DEFAULT
    with pytest.raises(KeyError):
        get_params("nope")


def test_groups_is_ceil_k_over_components():
    for params in PRESETS.values():
        c = params.components
        for k in range(1, 3 * c + 2):
            assert params.groups(k) == -(-k // c)
            assert (params.groups(k) - 1) * c < k <= params.groups(k) * c
    assert DEFAULT.groups(8) == 1 and DEFAULT.groups(9) == 2 and INSECURE_N64.groups(4) == 2
