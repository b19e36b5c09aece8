import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkflpq.fl.data import (
    Dataset,
    dirichlet_split,
    iid_split,
    load_breast_cancer,
    load_digits,
    load_medmnist_npz,
    make_synthetic_medical,
    train_test_split,
)


def test_synthetic_shapes_and_classes(synthetic):
    ds = synthetic
    assert ds.X.shape == (1000, 784) and ds.X.dtype == np.float32
    assert ds.y.shape == (1000,) and ds.y.dtype == np.int64
    assert ds.n_classes == 4
    assert ds.class_counts().tolist() == [250, 250, 250, 250]
    assert np.all(np.isfinite(ds.X))


def test_synthetic_deterministic_under_seed(synthetic):
    again = make_synthetic_medical(seed=42)
    assert np.array_equal(again.X, synthetic.X) and np.array_equal(again.y, synthetic.y)
    other = make_synthetic_medical(seed=43)
    assert not np.array_equal(other.X, synthetic.X)


def test_synthetic_uneven_sizes():
    ds = make_synthetic_medical(n_samples=10, n_features=16, n_classes=3, seed=0)
    assert len(ds) == 10 and ds.class_counts().tolist() == [4, 3, 3]


def test_synthetic_ar1_coupling_between_neighbours(synthetic):
    # residuals around the class means follow AR(1) with coefficient 0.2
    X, y = synthetic.X.astype(np.float64), synthetic.y
    res = X - np.stack([X[y == c].mean(0) for c in range(4)])[y]
    lag1 = np.mean(res[:, 1:] * res[:, :-1]) / np.mean(res[:, :-1] ** 2)
    lag5 = np.mean(res[:, 5:] * res[:, :-5]) / np.mean(res[:, :-5] ** 2)
    assert 0.17 < lag1 < 0.23
    assert abs(lag5) < 0.02  # 0.2**5 = 3e-4


def test_synthetic_class_offset_on_leading_block(synthetic):
    # class c has +0.3(c+1) on its first 196(c+1) features; compare block 0 means
    X, y = synthetic.X, synthetic.y
    lead = [X[y == c][:, :196].mean() for c in range(4)]
    assert lead[0] < lead[1] < lead[2] < lead[3]


def test_dataset_validation():
    with pytest.raises(ValueError):
        Dataset(np.zeros((3, 2)), np.array([0, 1, 2]), n_classes=2)
    with pytest.raises(ValueError):
        Dataset(np.zeros((3, 2)), np.array([0, 1]), n_classes=2)


def test_train_test_split(synthetic):
    tr, te = train_test_split(synthetic, 0.2)
    assert (len(tr), len(te)) == (800, 200)
    assert np.array_equal(np.vstack([tr.X, te.X]), synthetic.X)  # order kept without seed
    tr2, te2 = train_test_split(synthetic, 0.2, seed=1)
    assert sorted(map(bytes, np.vstack([tr2.X, te2.X]))) == sorted(map(bytes, synthetic.X))


def _indexed(n, n_classes, seed):
    """Dataset whose first feature is the row index, so partitions can be traced."""
    rng = np.random.default_rng(seed)
    X = np.stack([np.arange(n), rng.normal(size=n)], axis=1)
    return Dataset(X, rng.integers(0, n_classes, n), n_classes)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(60, 400),
    n_clients=st.integers(1, 6),
    alpha=st.floats(0.1, 10.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_dirichlet_split_covers_every_sample_exactly_once(n, n_clients, alpha, seed):
    ds = _indexed(n, 4, seed)
    parts = dirichlet_split(ds, n_clients, alpha, seed=seed, min_samples=5)
    ids = np.concatenate([p.X[:, 0] for p in parts]).astype(int)
    assert sorted(ids.tolist()) == list(range(n))
    assert all(len(p) >= 5 for p in parts)
    for p in parts:  # labels travel with their rows
        assert np.array_equal(ds.y[p.X[:, 0].astype(int)], p.y)


def test_dirichlet_split_paper_setting(paper_split):
    parts, test = paper_split
    assert len(parts) == 5 and sum(len(p) for p in parts) == 800 and len(test) == 200
    assert all(len(p) >= 10 for p in parts)
    props = np.stack([p.class_counts() / len(p) for p in parts])
    assert props.max() - props.min() > 0.5  # clearly non-IID at alpha = 0.5


def test_dirichlet_split_deterministic(synthetic):
    a = dirichlet_split(synthetic, 4, seed=7)
    b = dirichlet_split(synthetic, 4, seed=7)
    assert all(np.array_equal(x.X, y.X) for x, y in zip(a, b, strict=True))


def test_dirichlet_split_impossible_minimum():
    with pytest.raises(ValueError):
        dirichlet_split(_indexed(20, 2, 0), 5, min_samples=5)


def test_iid_split_covers():
    ds = _indexed(101, 3, 0)
    parts = iid_split(ds, 4, seed=0)
    assert sorted(np.concatenate([p.X[:, 0] for p in parts]).astype(int)) == list(range(101))


def test_breast_cancer_loads_standardised():
    ds = load_breast_cancer()
    assert ds.X.shape == (569, 30) and ds.n_classes == 2
    assert set(np.unique(ds.y)) == {0, 1}
    assert np.allclose(ds.X.mean(0), 0, atol=1e-4) and np.allclose(ds.X.std(0), 1, atol=1e-3)


def test_digits_loads_standardised():
    ds = load_digits()
    assert ds.X.shape == (1797, 64) and ds.n_classes == 10
    assert ds.class_counts().min() > 150
    assert np.allclose(ds.X.mean(0), 0, atol=1e-4) and np.all(np.isfinite(ds.X))


def _write_npz(path, shape=(28, 28), n=(12, 4, 6), n_classes=3, label_cols=1):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, k in zip(("train", "val", "test"), n, strict=True):
        arrays[f"{split}_images"] = rng.integers(0, 256, (k, *shape), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, n_classes, (k, label_cols)).astype(np.uint8)
    arrays["train_labels"][0, 0] = n_classes - 1  # make the class count unambiguous
    np.savez(path, **arrays)
    return arrays


def test_medmnist_loader(tmp_path):
    path = tmp_path / "tinymnist.npz"
    arrays = _write_npz(path)
    tr = load_medmnist_npz(path, "train")
    te = load_medmnist_npz(path, "test")
    assert tr.X.shape == (12, 784) and te.X.shape == (6, 784)
    assert tr.X.dtype == np.float32 and 0.0 <= tr.X.min() and tr.X.max() <= 1.0
    assert np.allclose(tr.X[3], arrays["train_images"][3].reshape(-1) / 255.0)
    assert tr.y.dtype == np.int64 and tr.y.shape == (12,)
    assert np.array_equal(tr.y, arrays["train_labels"][:, 0])
    assert tr.n_classes == te.n_classes == 3
    assert tr.name == "tinymnist/train"


def test_medmnist_rgb_and_errors(tmp_path):
    rgb = tmp_path / "rgb.npz"
    _write_npz(rgb, shape=(28, 28, 3))
    assert load_medmnist_npz(rgb, "val").X.shape == (4, 28 * 28 * 3)
    multi = tmp_path / "multi.npz"
    _write_npz(multi, label_cols=14, n_classes=2)
    with pytest.raises(ValueError, match="multi-label"):
        load_medmnist_npz(multi)
    with pytest.raises(ValueError):
        load_medmnist_npz(rgb, "validation")
