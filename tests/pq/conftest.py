"""Shared fixtures for the zkflpq.pq tests (keys are generated once per session)."""

from __future__ import annotations

import pytest

from zkflpq.pq import KemAlgorithm, KemPrivateKey, SigningKey


@pytest.fixture(scope="session")
def kem_keys() -> dict[KemAlgorithm, KemPrivateKey]:
    return {alg: KemPrivateKey.generate(alg) for alg in KemAlgorithm}


@pytest.fixture(scope="session", params=list(KemAlgorithm), ids=lambda a: a.name)
def kem_key(request: pytest.FixtureRequest, kem_keys: dict[KemAlgorithm, KemPrivateKey]):
    return kem_keys[request.param]


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()
