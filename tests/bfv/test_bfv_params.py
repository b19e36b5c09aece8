"""Parameter-set validation and the HE-standard check."""

from __future__ import annotations

import pytest

from zkflpq.bfv import (
    DEFAULT,
    HE_STANDARD_MAX_LOGQ_128,
    INSECURE_N64,
    PRESETS,
    BfvParams,
    get_params,
)
from zkflpq.ring import ntt_primes

P64 = ntt_primes(64, 30, 3)


def test_default_passes_he_standard():
    assert DEFAULT.n == 4096 and len(DEFAULT.primes) == 3 and DEFAULT.t == 2**32
    assert DEFAULT.he_standard_ok()
    assert DEFAULT.log2_q <= HE_STANDARD_MAX_LOGQ_128[4096]
    assert DEFAULT.estimated_security_bits() >= 128
    assert DEFAULT.error_sigma >= 3.19
    assert not DEFAULT.insecure


def test_insecure_presets_are_marked_and_fail_the_standard():
    for params in PRESETS.values():
        if params is DEFAULT:
            continue
        assert params.insecure and params.name.startswith("INSECURE")
        assert not params.he_standard_ok()
        assert params.estimated_security_bits() < 128


@pytest.mark.parametrize("kwargs,msg", [
    (dict(primes=(P64[0], P64[0] + 2)), "NTT-friendly"),         # not prime
    (dict(primes=(P64[0], 193)), "NTT-friendly"),                # prime, 1 mod 64, not mod 128
    (dict(primes=(P64[0], P64[0])), "distinct"),
    (dict(primes=()), "distinct"),
    (dict(primes=(2**31 + 129,)), "NTT-friendly"),               # above 2^31
    (dict(t=3 * 2**20), "power of two"),
    (dict(t=2**33), "power of two"),
    (dict(t=1), "power of two"),
    (dict(n=48), "power of two"),
    (dict(n=8), "power of two"),
    (dict(error_eta=0), "error_eta"),
    (dict(name=""), "name"),
    (dict(insecure=False), "128-bit"),                           # n = 64 is nowhere near 128 bits
])
def test_bad_parameter_sets_rejected(kwargs, msg):
    base = dict(name="test", n=64, primes=P64, t=2**32, insecure=True)
    base.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        BfvParams(**base)


def test_secure_set_below_128_bits_rejected():
    # N = 4096 with log2 q ≈ 120 > 109: outside the HE-standard table row
    primes = ntt_primes(4096, 30, 4)
    with pytest.raises(ValueError, match="128-bit"):
        BfvParams(name="too-big-q", n=4096, primes=primes, t=2**32)
    ok = BfvParams(name="too-big-q", n=4096, primes=primes, t=2**32, insecure=True)
    assert not ok.he_standard_ok()


def test_t_must_be_below_q():
    with pytest.raises(ValueError, match="smaller than q"):
        BfvParams(name="x", n=64, primes=ntt_primes(64, 17, 1), t=2**32, insecure=True)


def test_ids_are_distinct_and_stable():
    ids = {p.id_bytes for p in PRESETS.values()}
    assert len(ids) == len(PRESETS) and all(len(i) == 16 for i in ids)
    again = BfvParams(name=DEFAULT.name, n=DEFAULT.n, primes=DEFAULT.primes, t=DEFAULT.t)
    assert again.id_bytes == DEFAULT.id_bytes and again == DEFAULT
    other = BfvParams(name=INSECURE_N64.name, n=64, primes=INSECURE_N64.primes, t=2**31,
                      insecure=True)
    assert other.id_bytes != INSECURE_N64.id_bytes


def test_delta_and_max_clients():
    assert DEFAULT.delta == DEFAULT.q // DEFAULT.t
    b = 327680
    k = DEFAULT.max_clients(b)
    assert k * b < DEFAULT.t // 2 <= (k + 1) * b
    assert get_params(DEFAULT.name) is DEFAULT
    with pytest.raises(KeyError):
        get_params("nope")
