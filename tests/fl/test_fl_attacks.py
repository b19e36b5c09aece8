import numpy as np
import pytest

from zkflpq.fl.attacks import (
    ATTACKS,
    ALIEAttack,
    Attack,
    AttackContext,
    ConstrainAndScaleBackdoor,
    GaussianNoiseAttack,
    IPMAttack,
    LabelFlipAttack,
    MinMaxAttack,
    MinSumAttack,
    ScalingAttack,
    SignFlipAttack,
    alie_z_max,
    make_attack,
    make_pixel_trigger,
)
from zkflpq.fl.data import Dataset, train_test_split
from zkflpq.fl.model import flatten_params, make_mlp
from zkflpq.fl.training import l2_norm, local_train

D = 2_000  # update length for the cheap attacks


def _benign(k=4, d=D, seed=0):
    """k correlated "honest" updates: a shared direction plus client noise."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.05, d)
    return (base + rng.normal(0, 0.02, (k, d))).astype(np.float32)


def _ctx(benign, **kw):
    kw.setdefault("rng", np.random.default_rng(0))
    kw.setdefault("n_clients", benign.shape[0] + 1)
    kw.setdefault("n_malicious", 1)
    kw.setdefault("tau", 5.0)
    return AttackContext(benign_updates=benign, **kw)


def test_registry_has_the_suite():
    expected = {"gaussian", "scaling", "sign_flip", "label_flip", "alie", "ipm", "min_max"}
    assert expected | {"backdoor"} <= set(ATTACKS)
    for name, factory in ATTACKS.items():
        a = factory()
        assert isinstance(a, Attack) and a.name == name
        assert make_attack(name).name == name
    with pytest.raises(ValueError, match="unknown attack"):
        make_attack("nope")


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_returns_a_finite_float32_vector_of_the_right_shape(name):
    b = _benign()
    out = make_attack(name).poison_update(b[0], _ctx(b))
    assert out.shape == (D,) and out.dtype == np.float32 and np.all(np.isfinite(out))
    assert isinstance(make_attack(name).describe()["name"], str)


def test_gaussian_attack_norm_matches_paper():
    honest = np.zeros(108_996, np.float32)
    out = GaussianNoiseAttack(50.0).poison_update(honest, _ctx(_benign()))
    assert out.shape == (108_996,)
    assert abs(l2_norm(out) - 16_500) < 100  # 50 * sqrt(108996) = 16,507
    assert abs(out.std() - 50) < 0.5 and abs(out.mean()) < 0.5


def test_scaling_boosts_by_n_clients_by_default():
    b = _benign()
    out = ScalingAttack().poison_update(b[0], _ctx(b, n_clients=7))
    assert np.allclose(out, 7 * b[0])
    assert np.allclose(ScalingAttack(3).poison_update(b[0], _ctx(b)), 3 * b[0])


def test_sign_flip_is_negatively_correlated_with_honest_mean():
    b = _benign()
    out = SignFlipAttack().poison_update(b[0], _ctx(b))
    assert np.corrcoef(out, b.mean(0))[0, 1] < -0.5
    assert np.array_equal(out, -b[0])


def test_label_flip_maps_labels_and_keeps_features():
    ds = Dataset(np.arange(12.0).reshape(6, 2), [0, 1, 2, 3, 0, 1], 4)
    flipped = LabelFlipAttack().poison_data(ds, np.random.default_rng(0))
    assert flipped.y.tolist() == [3, 2, 1, 0, 3, 2]
    assert np.array_equal(flipped.X, ds.X)
    st = LabelFlipAttack(source=1, target=3).poison_data(ds, np.random.default_rng(0))
    assert st.y.tolist() == [0, 3, 2, 3, 0, 3]
    assert LabelFlipAttack.applies_to_data


def test_alie_z_max():
    # n=5, m=1: s = floor(5/2 + 1) - 1 = 2, z = Phi^-1(3/5)
    assert alie_z_max(5, 1) == pytest.approx(0.2533, abs=1e-4)
    # n=50, m=12 (Baruch et al.'s CIFAR setting): s = 14, z = Phi^-1(36/50) ~ 0.58
    assert alie_z_max(50, 12) == pytest.approx(0.5828, abs=1e-3)


def test_alie_stays_within_benign_per_coordinate_range():
    b = _benign(k=4)
    out = ALIEAttack().poison_update(b[0], _ctx(b))
    lo, hi = b.min(0), b.max(0)
    assert np.all(out >= lo - 1e-6) and np.all(out <= hi + 1e-6)
    expect = b.astype(np.float64).mean(0) - alie_z_max(5, 1) * b.astype(np.float64).std(0)
    assert np.allclose(out, expect, atol=1e-6)
    assert not np.allclose(out, b.mean(0))


def test_omniscient_attacks_need_benign_updates():
    for cls in (ALIEAttack, MinMaxAttack, IPMAttack):
        with pytest.raises(ValueError):
            cls().poison_update(np.zeros(3), AttackContext())


def test_ipm_has_negative_inner_product_with_benign_mean():
    b = _benign()
    out = IPMAttack(0.5).poison_update(b[0], _ctx(b))
    assert np.dot(out, b.mean(0)) < 0
    assert np.allclose(out, -0.5 * b.mean(0), atol=1e-7)


@pytest.mark.parametrize("perturbation", ["unit_vec", "std", "sign"])
def test_min_max_is_as_far_as_allowed_and_no_further(perturbation):
    b = _benign().astype(np.float64)
    atk = MinMaxAttack(perturbation)
    out = atk.poison_update(b[0], _ctx(b)).astype(np.float64)
    max_pair = max(np.linalg.norm(x - y) for x in b for y in b)
    dist = np.linalg.norm(b - out, axis=1).max()
    assert dist <= max_pair * (1 + 1e-5)
    assert atk.last_gamma > 0
    # tight: a 1 % larger gamma would violate the constraint
    mu = b.mean(0)
    p = (out - mu) / atk.last_gamma
    assert np.linalg.norm(b - (mu + 1.01 * atk.last_gamma * p), axis=1).max() > max_pair
    if perturbation == "unit_vec":  # moves against the benign mean
        assert np.dot(out - mu, mu) < 0


def test_min_sum_constraint():
    b = _benign().astype(np.float64)
    out = MinSumAttack().poison_update(b[0], _ctx(b)).astype(np.float64)
    lhs = (np.linalg.norm(b - out, axis=1) ** 2).sum()
    rhs = max(sum(np.linalg.norm(x - y) ** 2 for y in b) for x in b)
    assert lhs <= rhs * (1 + 1e-5)


def test_pixel_trigger_is_bottom_right_patch():
    t = make_pixel_trigger(784, size=4, value=1.0, low=0.0)
    assert sorted(t.indices.tolist()) == [r * 28 + c for r in range(24, 28) for c in range(24, 28)]
    assert set(t.values.tolist()) == {0.0, 1.0}
    X = np.zeros((2, 784), np.float32)
    stamped = t.apply(X)
    assert np.all(X == 0) and stamped.sum() == 2 * 8
    tab = make_pixel_trigger(30, size=2, value=3.0)  # not an image: last features
    assert tab.indices.tolist() == [26, 27, 28, 29]


@pytest.mark.parametrize("scale_to_bound", [False, True])
def test_constrain_and_scale_stays_within_tau(scale_to_bound):
    atk = ConstrainAndScaleBackdoor(scale_to_bound=scale_to_bound)
    rng = np.random.default_rng(3)
    for norm in (0.01, 0.5, 3.0, 40.0, 1e4):
        honest = rng.normal(size=D).astype(np.float32)
        honest *= norm / np.linalg.norm(honest)
        out = atk.poison_update(honest, _ctx(_benign(), tau=5.0, n_clients=5))
        assert l2_norm(out) <= 5.0
        assert np.corrcoef(out, honest)[0, 1] > 0.999  # same direction, only rescaled
        if scale_to_bound:
            assert l2_norm(out) == pytest.approx(5.0, rel=1e-5)
        elif 5 * norm < 5.0:
            assert np.allclose(out, 5 * honest)  # boosted by n_clients, not clipped


def test_backdoor_poisons_data_and_success_metric(synthetic):
    train, test = train_test_split(synthetic, 0.2)
    atk = ConstrainAndScaleBackdoor(target_label=2, poison_fraction=0.5)
    pois = atk.poison_data(train, np.random.default_rng(0))
    changed = np.any(pois.X != train.X, axis=1)
    assert changed.sum() == 400 and np.all(pois.y[changed] == 2)
    assert np.array_equal(pois.y[~changed], train.y[~changed])
    g = flatten_params(make_mlp(seed=0))
    clean = g + local_train(g, train, seed=1)
    backdoored = g + local_train(g, pois, seed=1)
    assert atk.backdoor_success(clean, test) < 0.3
    assert atk.backdoor_success(backdoored, test) > 0.9
