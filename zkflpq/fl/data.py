"""Datasets for the plaintext FL side: the paper's synthetic "medical imaging" task,
non-IID client partitioning, and loaders for a few real tabular/image sets.

Every dataset is a :class:`Dataset` with ``X`` of shape ``(n, d)`` (float32) and
``y`` of shape ``(n,)`` (int64, values in ``[0, n_classes)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np

__all__ = [
    "SYNTHETIC_CLASS_NAMES",
    "Dataset",
    "dirichlet_split",
    "iid_split",
    "load_breast_cancer",
    "load_digits",
    "load_medmnist_npz",
    "make_synthetic_medical",
    "standardize",
    "train_test_split",
]

SYNTHETIC_CLASS_NAMES: tuple[str, ...] = ("normal", "benign", "malignant_a", "malignant_b")


@dataclass(frozen=True)
class Dataset:
    """A labelled sample set.

    X: ``(n, d)`` float32 features; y: ``(n,)`` int64 labels in ``[0, n_classes)``.
    Inputs are coerced to those dtypes (a copy is made only when needed).
    """

    X: np.ndarray
    y: np.ndarray
    n_classes: int
    name: str = "dataset"

    def __post_init__(self) -> None:
        X = np.ascontiguousarray(self.X, dtype=np.float32)
        y = np.ascontiguousarray(self.y, dtype=np.int64).reshape(-1)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n, d), got shape {X.shape}")
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
        if self.n_classes < 1:
            raise ValueError("n_classes must be >= 1")
        if y.size and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(
                f"labels must lie in [0, {self.n_classes}), got [{y.min()}, {y.max()}]"
            )
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def subset(self, idx: np.ndarray, name: str | None = None) -> Dataset:
        """Rows ``idx`` (index array or boolean mask) as a new dataset."""
        idx = np.asarray(idx)
        return Dataset(self.X[idx], self.y[idx], self.n_classes, name or self.name)

    def class_counts(self) -> np.ndarray:
        """``(n_classes,)`` int64 count of samples per label."""
        return np.bincount(self.y, minlength=self.n_classes).astype(np.int64)


def make_synthetic_medical(
    n_samples: int = 1000,
    n_features: int = 784,
    n_classes: int = 4,
    *,
    seed: int = 42,
    mean_std: float = 0.5,
    offset: float = 0.3,
    noise_std: float = 0.3,
    ar_coef: float = 0.2,
) -> Dataset:
    """The ZKFL-PQ paper's synthetic imaging task (28x28 = 784 features, 4 classes).

    Class ``c`` has mean ``m_c ~ N(0, mean_std^2 I)`` plus ``offset * (c + 1)`` on its
    leading block of ``(n_features // n_classes) * (c + 1)`` features. A sample is
    ``u ~ N(m_c, noise_std^2 I)`` followed, feature by feature, by the AR(1) coupling
    ``x_j = u_j + ar_coef * x_{j-1}`` (neighbouring "pixels" correlated). The filter is
    linear, so this is a (filtered) class mean plus AR(1) Gaussian noise.

    Classes are balanced (the first ``n_samples % n_classes`` classes get one extra
    sample) and the rows are shuffled. Fully determined by ``seed``.
    """
    if n_samples < n_classes:
        raise ValueError("need at least one sample per class")
    rng = np.random.default_rng(seed)
    block = n_features // n_classes
    per_class = [n_samples // n_classes + (c < n_samples % n_classes) for c in range(n_classes)]
    X_parts, y_parts = [], []
    for c in range(n_classes):
        mean = rng.normal(0.0, mean_std, n_features)
        mean[: block * (c + 1)] += offset * (c + 1)
        X_parts.append(rng.normal(mean, noise_std, size=(per_class[c], n_features)))
        y_parts.append(np.full(per_class[c], c, dtype=np.int64))
    X = np.vstack(X_parts)
    # AR(1) recursion along the feature axis, vectorised over samples.
    Xf = np.asfortranarray(X)
    for j in range(1, n_features):
        Xf[:, j] += ar_coef * Xf[:, j - 1]
    y = np.concatenate(y_parts)
    perm = rng.permutation(n_samples)
    return Dataset(Xf[perm], y[perm], n_classes, "synthetic_medical")


def train_test_split(
    ds: Dataset, test_fraction: float = 0.2, *, seed: int | None = None
) -> tuple[Dataset, Dataset]:
    """Split into (train, test). ``seed=None`` keeps row order (first rows train, as in the
    paper, whose data is already shuffled); otherwise rows are permuted first."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be in (0, 1)")
    n = len(ds)
    order = np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)
    n_train = int(round((1.0 - test_fraction) * n))
    if not 0 < n_train < n:
        raise ValueError("split leaves an empty side")
    return (
        ds.subset(order[:n_train], f"{ds.name}/train"),
        ds.subset(order[n_train:], f"{ds.name}/test"),
    )


def dirichlet_split(
    ds: Dataset,
    n_clients: int,
    alpha: float = 0.5,
    *,
    seed: int = 42,
    min_samples: int = 10,
    max_tries: int = 1000,
) -> list[Dataset]:
    """Non-IID partition: for each class, client shares ~ Dirichlet(alpha * 1).

    Every sample goes to exactly one client. Draws are repeated (same RNG stream) until
    each client holds at least ``min_samples`` samples; raises after ``max_tries``.
    """
    if n_clients < 1:
        raise ValueError("n_clients must be >= 1")
    if alpha <= 0:
        raise ValueError("alpha must be > 0")
    if n_clients * min_samples > len(ds):
        raise ValueError(f"{len(ds)} samples cannot give {n_clients} clients {min_samples} each")
    rng = np.random.default_rng(seed)
    class_idx = [np.flatnonzero(ds.y == c) for c in range(ds.n_classes)]
    for _ in range(max_tries):
        parts: list[list[np.ndarray]] = [[] for _ in range(n_clients)]
        for idx in class_idx:
            if idx.size == 0:
                continue
            p = rng.dirichlet(np.full(n_clients, alpha))
            cuts = (np.cumsum(p)[:-1] * idx.size).astype(np.int64)
            for k, chunk in enumerate(np.split(rng.permutation(idx), cuts)):
                parts[k].append(chunk)
        sizes = [sum(c.size for c in chunks) for chunks in parts]
        if min(sizes) >= min_samples:
            out = []
            for k, chunks in enumerate(parts):
                rows = rng.permutation(np.concatenate(chunks))
                out.append(ds.subset(rows, f"{ds.name}/client{k}"))
            return out
    raise RuntimeError(f"no Dirichlet draw gave every client >= {min_samples} samples")


def iid_split(ds: Dataset, n_clients: int, *, seed: int = 42) -> list[Dataset]:
    """Uniformly random partition into ``n_clients`` near-equal shards."""
    perm = np.random.default_rng(seed).permutation(len(ds))
    return [
        ds.subset(rows, f"{ds.name}/client{k}")
        for k, rows in enumerate(np.array_split(perm, n_clients))
    ]


def standardize(train: Dataset, *others: Dataset) -> tuple[Dataset, ...]:
    """Z-score every set with the per-feature mean/std of ``train`` (constant
    features get std 1). Returns ``(train, *others)`` standardised."""
    mu = train.X.mean(axis=0, dtype=np.float64)
    sd = train.X.std(axis=0, dtype=np.float64)
    sd[sd == 0] = 1.0
    return tuple(
        Dataset(((d.X - mu) / sd).astype(np.float32), d.y, d.n_classes, d.name)
        for d in (train, *others)
    )


def load_breast_cancer(*, standardized: bool = True) -> Dataset:
    """scikit-learn's Wisconsin diagnostic breast-cancer set: 569 x 30, 2 classes
    (0 = malignant, 1 = benign). Standardised over the whole set when requested."""
    from sklearn.datasets import load_breast_cancer as _load

    b = _load()
    ds = Dataset(b.data, b.target, 2, "breast_cancer")
    return standardize(ds)[0] if standardized else ds


def load_digits(*, standardized: bool = True) -> Dataset:
    """scikit-learn's 8x8 handwritten digits: 1797 x 64, 10 classes.
    Standardised over the whole set when requested (constant pixels stay 0)."""
    from sklearn.datasets import load_digits as _load

    d = _load()
    ds = Dataset(d.data, d.target, 10, "digits")
    return standardize(ds)[0] if standardized else ds


def load_medmnist_npz(
    path: str | PathLike[str],
    split: str = "train",
    *,
    n_classes: int | None = None,
    name: str | None = None,
) -> Dataset:
    """A MedMNIST ``.npz`` (keys ``{train,val,test}_images`` / ``_labels``) split.

    Images ``(n, H, W)`` or ``(n, H, W, C)`` uint8 are flattened to ``(n, H*W[*C])`` and
    scaled to [0, 1]; labels ``(n,)`` or ``(n, 1)`` become int64. ``n_classes`` defaults
    to ``1 + max label`` over all splits in the file, so splits agree. Multi-label sets
    (label arrays with several columns, e.g. ChestMNIST) are rejected.
    """
    if split not in ("train", "val", "test"):
        raise ValueError("split must be 'train', 'val' or 'test'")
    with np.load(path) as z:
        images = z[f"{split}_images"]
        label_arrays = {k: z[k] for k in z.files if k.endswith("_labels")}
    labels = label_arrays[f"{split}_labels"]
    if labels.ndim > 1 and labels.shape[1] != 1:
        raise ValueError(f"multi-label MedMNIST labels of shape {labels.shape} not supported")
    if n_classes is None:
        n_classes = 1 + max(int(a.max()) for a in label_arrays.values() if a.size)
    X = images.reshape(images.shape[0], -1).astype(np.float32)
    if np.issubdtype(images.dtype, np.integer):
        X /= 255.0
    stem = name or str(path).rsplit("/", 1)[-1].removesuffix(".npz")
    return Dataset(X, labels.reshape(-1), n_classes, f"{stem}/{split}")
