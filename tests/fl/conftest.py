"""Shared fixtures for the zkflpq.fl tests: the paper's synthetic data, split as in the paper."""

import pytest

from zkflpq.fl.data import dirichlet_split, make_synthetic_medical, train_test_split


@pytest.fixture(scope="session")
def synthetic():
    return make_synthetic_medical(seed=42)


@pytest.fixture(scope="session")
def paper_split(synthetic):
    """(client datasets, test set): 80/20 split, Dirichlet(0.5) over 5 clients."""
    train, test = train_test_split(synthetic, 0.2)
    return dirichlet_split(train, 5, 0.5, seed=42), test
