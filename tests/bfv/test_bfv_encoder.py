"""Encoder: hard L2 bound, quantisation error, clipping direction, chunking."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from zkflpq.bfv import DEFAULT, INSECURE_N64, Encoder, decrypt, encrypt, norm_bound, sum_ciphertexts
from zkflpq.bfv.encoder import rounding_error_bound
from zkflpq.ring import Csprng

N = INSECURE_N64.n


def exact_sq_norm(m: np.ndarray) -> int:
    return sum(int(v) * int(v) for v in m.ravel())


@st.composite
def vectors(draw):
    d = draw(st.integers(1, 5 * N + 3))
    seed = draw(st.integers(0, 2**32 - 1))
    log_mag = draw(st.sampled_from([-300, -30, -5, 0, 1, 3, 10, 100, 300]))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["gauss", "one-hot", "constant", "sparse"]))
    if kind == "gauss":
        x = rng.standard_normal(d)
    elif kind == "one-hot":
        x = np.zeros(d)
        x[rng.integers(0, d)] = 1.0
    elif kind == "constant":
        x = np.ones(d)
    else:
        x = rng.standard_normal(d) * (rng.random(d) < 0.05)
    return x * 10.0**log_mag


@st.composite
def encoders(draw):
    scale = draw(st.sampled_from([1.0, 2.0**8, 2.0**16, 2.0**20, 1000.0]))
    # B must exceed the rounding error bound √(5N+3) ≈ 18 for every d drawn below
    tau = draw(st.sampled_from([0.5, 1.0, 5.0, 100.0]).filter(lambda t: t * scale > 40))
    return Encoder(INSECURE_N64, scale=scale, tau=tau, stochastic=draw(st.booleans()))


@given(encoders(), vectors())
def test_norm_bound_always_holds(enc, x):
    m = enc.encode(x, Csprng.from_seed(b"enc", b"test"))
    d = x.shape[0]
    assert m.shape == (math.ceil(d / N), N) and m.dtype == np.int64
    assert exact_sq_norm(m) <= enc.bound**2
    assert not m.ravel()[d:].any()  # zero padding


@given(st.integers(1, 3 * N), st.integers(0, 1000), st.floats(0.5, 0.99), st.booleans())
def test_rounding_cannot_push_past_bound(d, k, f, stochastic):
    """x inside the τ-ball whose coordinates all round up out of it: clipping to τ (or to
    B/scale) before rounding would break the bound; clipping to (B − ρ)/scale does not."""
    c = k + f
    bound = math.ceil(c * math.sqrt(d) + 1e-9)  # ‖x‖ ≤ B ...
    assume(bound < (k + 1) * math.sqrt(d))  # ... but ‖round(x)‖ = (k+1)·√d > B
    assume(bound > rounding_error_bound(d, stochastic))
    enc = Encoder(INSECURE_N64, scale=1.0, tau=float(bound), stochastic=stochastic)
    assert enc.bound == bound
    m = enc.encode(np.full(d, c), Csprng())
    assert exact_sq_norm(m) <= bound**2


@given(st.integers(1, 4 * N), st.integers(0, 2**32 - 1), st.booleans())
def test_decode_error_below_clip(d, seed, stochastic):
    enc = Encoder(INSECURE_N64, scale=2.0**16, tau=5.0, stochastic=stochastic)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(d)
    x *= 0.9 * enc.clip_radius(d) / np.linalg.norm(x)  # strictly inside: no clipping
    y = enc.decode(enc.encode(x), d)
    assert y.shape == (d,) and y.dtype == np.float64
    err = np.abs(y - x).max()
    assert err <= (0.5 if not stochastic else 1.0) / enc.scale + 1e-15


@given(vectors())
def test_clipping_preserves_direction(x):
    enc = Encoder(INSECURE_N64, scale=2.0**16, tau=5.0)
    d = x.shape[0]
    y = enc.decode(enc.encode(x), d)
    if not x.any():
        return
    amax = float(np.abs(x).max())
    norm = float(np.linalg.norm(x / amax)) * amax
    assert np.linalg.norm(y) <= enc.tau + 1e-12
    if norm > enc.clip_radius(d):  # clipped: y ≈ x·(r/‖x‖), error ≤ √d/(2·scale) in L2
        target = x / norm * enc.clip_radius(d)
        assert np.linalg.norm(y - target) <= math.sqrt(d) / (2 * enc.scale) * 1.0001
        assert float(np.dot(y, target)) > 0
    else:
        assert np.abs(y - x).max() <= 0.5 / enc.scale + 1e-15


def test_stochastic_rounding_is_unbiased():
    enc = Encoder(INSECURE_N64, scale=1.0, tau=1e6, stochastic=True)
    x = np.full(N, 0.25)
    rng = Csprng.from_seed(b"sr", b"bias")
    mean = np.mean([enc.encode(x, rng) for _ in range(200)])
    assert abs(mean - 0.25) < 5 * math.sqrt(0.25 * 0.75 / (200 * N))
    assert set(np.unique(enc.encode(x, rng))) <= {0, 1}


def test_decode_sum_divides_by_count(keys_n64):
    sk, pk = keys_n64
    enc = Encoder(INSECURE_N64, scale=2.0**16, tau=5.0)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(100) * 0.1 for _ in range(7)]
    agg = sum_ciphertexts(encrypt(pk, enc.encode(x)) for x in xs)
    mean = enc.decode(decrypt(sk, agg), 100, n_summed=7)
    assert np.abs(mean - np.mean(xs, axis=0)).max() <= 0.5 / enc.scale


def test_helpers_and_validation():
    assert norm_bound(5.0, 2.0**16) == 327680
    assert norm_bound(0.1, 10.0) == 1  # exact product of the two doubles, floored
    assert norm_bound(0.3, 10.0) == 2  # the double 0.3 is slightly below 3/10
    assert rounding_error_bound(16) == 2.0 and rounding_error_bound(16, True) == 4.0
    enc = Encoder(DEFAULT, scale=2.0**16, tau=5.0)
    assert enc.bound == 327680 and enc.num_chunks(4097) == 2
    assert DEFAULT.max_clients(enc.bound) >= 1024
    # spec v3: K_max ≥ 1000 clients at the default τ = 5 and scale 2^14
    assert DEFAULT.max_clients(Encoder(DEFAULT, scale=2.0**14, tau=5.0).bound) >= 1000
    with pytest.raises(ValueError):
        Encoder(DEFAULT, scale=2.0**16, tau=2.0**20)  # B ≥ t/2
    with pytest.raises(ValueError):
        Encoder(DEFAULT, scale=0.0, tau=1.0)
    with pytest.raises(ValueError):
        Encoder(DEFAULT, scale=1.0, tau=0.5)  # B = 0
    with pytest.raises(ValueError):
        Encoder(DEFAULT, scale=float("nan"), tau=1.0)
    with pytest.raises(ValueError):
        enc.encode(np.array([1.0, np.nan]))
    with pytest.raises(ValueError):
        enc.encode(np.array([np.inf]))
    with pytest.raises(ValueError):
        enc.encode(np.zeros((2, 2)))
    with pytest.raises(ValueError):
        enc.encode(np.zeros(0))
    with pytest.raises(ValueError):
        Encoder(DEFAULT, scale=1.0, tau=10.0).encode(np.zeros(1000))  # B ≤ √d/2
    with pytest.raises(ValueError):
        enc.decode(np.zeros((1, DEFAULT.n), np.int64), 4097)
    with pytest.raises(ValueError):
        enc.decode(np.zeros((1, DEFAULT.n), np.int64), 10, n_summed=0)


def test_unclipped_encoder():
    enc = Encoder(INSECURE_N64, scale=2.0**10)
    assert enc.bound is None
    x = np.array([1.5, -2.25, 1e-4])
    assert np.allclose(enc.decode(enc.encode(x), 3), x, atol=0.5 / 2**10)
    with pytest.raises(ValueError):
        enc.encode(np.array([2.0**30]))  # 2^40 does not fit (−t/2, t/2]
