import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from zkflpq.fl.data import Dataset
from zkflpq.fl.model import flatten_params, make_mlp
from zkflpq.fl.training import (
    clip_l2,
    evaluate,
    evaluate_loss,
    fedavg,
    l2_norm,
    local_train,
)

P = 108_996


@pytest.fixture(scope="module")
def g0():
    return flatten_params(make_mlp(seed=42))


@settings(max_examples=200, deadline=None)
@given(
    v=arrays(np.float32, st.integers(1, 300), elements=st.floats(-1e6, 1e6, width=32)),
    tau=st.floats(1e-3, 1e4),
)
def test_clip_l2_bounds_norm(v, tau):
    clipped, norm = clip_l2(v, tau)
    assert clipped.shape == v.shape and clipped.dtype == np.float32
    assert norm == pytest.approx(l2_norm(v))
    assert l2_norm(clipped) <= tau  # exact, in float64, after float32 rounding
    if norm <= tau:
        assert np.array_equal(clipped, v)
    else:
        assert l2_norm(clipped) == pytest.approx(tau, rel=1e-5)
        assert np.allclose(clipped * (norm / tau), v, rtol=1e-4, atol=1e-3 * norm / v.size)


def test_clip_l2_leaves_small_vectors_unchanged_and_copies():
    v = np.array([3.0, 4.0], np.float32)
    out, n = clip_l2(v, 5.0)
    assert n == 5.0 and np.array_equal(out, v) and out is not v
    out, n = clip_l2(v, 1.0)
    assert np.allclose(out, [0.6, 0.8]) and n == 5.0


def test_clip_l2_rejects_nan_and_negative_tau():
    with pytest.raises(ValueError):
        clip_l2(np.array([np.nan, 1.0]), 5.0)
    with pytest.raises(ValueError):
        clip_l2(np.ones(3), -1.0)
    out, _ = clip_l2(np.ones(3), 0.0)
    assert np.all(out == 0)


def test_fedavg_is_global_plus_unweighted_mean():
    g = np.array([1.0, 2.0, 3.0], np.float32)
    ups = [np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0]), np.array([0.0, 0.0, 3.0])]
    assert np.allclose(fedavg(g, ups), [4 / 3, 8 / 3, 4.0])
    same = fedavg(g, [])
    assert np.array_equal(same, g) and same is not g
    with pytest.raises(ValueError):
        fedavg(g, [np.zeros(2)])


def test_local_train_update_shape_determinism_and_progress(paper_split, g0):
    parts, _ = paper_split
    client = parts[0]
    u1 = local_train(g0, client, seed=1)
    u2 = local_train(g0, client, seed=1)
    assert u1.shape == (P,) and u1.dtype == np.float32
    assert np.array_equal(u1, u2)
    assert not np.array_equal(u1, local_train(g0, client, seed=2))
    assert 0 < l2_norm(u1) < 5.0
    assert evaluate_loss(g0 + u1, client) < evaluate_loss(g0, client)
    assert np.all(local_train(g0, client, lr=0.0, seed=1) == 0)


def test_local_train_rejects_mismatched_vector(paper_split):
    with pytest.raises(ValueError):
        local_train(np.zeros(10, np.float32), paper_split[0][0])


def test_evaluate_accuracy_range():
    ds = Dataset(np.eye(4, 8), np.arange(4), 4)
    acc = evaluate(flatten_params(make_mlp(8, (5,), 4, seed=0)), ds, hidden=(5,))
    assert 0.0 <= acc <= 1.0 and acc * 4 == int(acc * 4)


def test_round_of_five_clients_is_fast(paper_split, g0):
    parts, _ = paper_split
    local_train(g0, parts[0], seed=0)  # warm-up
    t = time.perf_counter()
    for k, p in enumerate(parts):
        local_train(g0, p, seed=k)
    # ~0.1 s measured on 2 cores; generous bound against a loaded machine
    assert time.perf_counter() - t < 2.0
