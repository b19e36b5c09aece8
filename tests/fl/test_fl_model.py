import json

import numpy as np
import pytest
import torch

from zkflpq.fl.model import (
    flatten_params,
    layout_from_json,
    layout_size,
    layout_to_json,
    load_flat_params,
    make_cnn,
    make_mlp,
    make_model,
    mlp_from_layout,
    model_layout,
    param_count,
)


def test_paper_mlp_has_exactly_108996_parameters():
    m = make_mlp(784, (128, 64), 4)
    # 784*128+128 + 128*64+64 + 64*4+4
    assert param_count(m) == 108_996
    assert flatten_params(m).shape == (108_996,)


def test_generic_mlp_shapes():
    m = make_mlp(30, (16,), 2)
    assert param_count(m) == 30 * 16 + 16 + 16 * 2 + 2
    assert m(torch.zeros(5, 30)).shape == (5, 2)
    assert param_count(make_mlp(8, (), 3)) == 8 * 3 + 3


def test_flatten_load_round_trip():
    m = make_mlp(seed=0)
    vec = np.random.default_rng(1).normal(size=param_count(m)).astype(np.float32)
    load_flat_params(m, vec)
    assert np.array_equal(flatten_params(m), vec)
    # the vector order matches model_layout: first block is the first weight matrix
    w0 = m[0].weight.detach().numpy()
    assert np.array_equal(w0.reshape(-1), vec[: w0.size])
    # and a second model loaded from the same vector computes the same function
    m2 = load_flat_params(make_mlp(seed=5), vec)
    x = torch.randn(3, 784)
    assert torch.equal(m(x), m2(x))


def test_flatten_is_a_copy():
    m = make_mlp(seed=0)
    v = flatten_params(m)
    v[:] = 0
    assert np.any(flatten_params(m) != 0)


def test_load_rejects_wrong_length():
    m = make_mlp(seed=0)
    with pytest.raises(ValueError):
        load_flat_params(m, np.zeros(param_count(m) - 1, np.float32))


def test_seeded_init_is_deterministic_and_he_scaled():
    a, b = flatten_params(make_mlp(seed=3)), flatten_params(make_mlp(seed=3))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, flatten_params(make_mlp(seed=4)))
    w0 = a[: 784 * 128]
    assert abs(w0.std() - np.sqrt(2 / 784)) < 0.002
    assert np.all(a[784 * 128 : 784 * 128 + 128] == 0)  # zero biases


def test_layout_json_round_trip_and_rebuild():
    m = make_mlp(seed=0)
    layout = model_layout(m)
    assert layout == [
        ("0.weight", (128, 784)),
        ("0.bias", (128,)),
        ("2.weight", (64, 128)),
        ("2.bias", (64,)),
        ("4.weight", (4, 64)),
        ("4.bias", (4,)),
    ]
    text = layout_to_json(layout)
    assert json.loads(text)[0] == {"name": "0.weight", "shape": [128, 784]}
    assert layout_from_json(text) == layout
    assert layout_size(layout) == 108_996
    rebuilt = mlp_from_layout(layout_from_json(text))
    assert model_layout(rebuilt) == layout


def test_mlp_from_layout_rejects_non_chain():
    with pytest.raises(ValueError):
        mlp_from_layout([("0.weight", (4, 8)), ("0.bias", (5,))])
    with pytest.raises(ValueError):
        mlp_from_layout(
            [("0.weight", (4, 8)), ("0.bias", (4,)), ("2.weight", (3, 5)), ("2.bias", (3,))]
        )


def test_cnn_shape_parameters_and_seeded_init():
    net = make_cnn(seed=3)
    assert param_count(net) == 46_340
    assert net(torch.zeros(2, 784)).shape == (2, 4)
    assert np.array_equal(flatten_params(net), flatten_params(make_model("cnn", 784, 4, seed=3)))
    assert not np.array_equal(flatten_params(net), flatten_params(make_cnn(seed=4)))
    with pytest.raises(ValueError, match="square"):
        make_model("cnn", 785, 4)
    with pytest.raises(ValueError, match="unknown architecture"):
        make_model("rnn", 784, 4)
