"""Shared test configuration: hypothesis profiles and session-scoped BFV keys.

Profiles (select with ZKFLPQ_HYPOTHESIS_PROFILE): "default" (random, 30 examples),
"ci" (same, printed reproduction blobs) and "thorough" (300 examples).
No deadlines: the first example of a test may include numba compilation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The plain-Python naive twins (tests/ring/ring_naive.py) serve every layer's tests.
sys.path.insert(0, str(Path(__file__).resolve().parent / "ring"))

settings.register_profile(
    "default", deadline=None, max_examples=30,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", parent=settings.get_profile("default"), print_blob=True)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=300)
settings.load_profile(os.environ.get("ZKFLPQ_HYPOTHESIS_PROFILE",
                                     "ci" if os.environ.get("CI") else "default"))


@pytest.fixture(scope="session")
def keys_n64():
    from zkflpq.bfv import INSECURE_N64, keygen
    from zkflpq.ring import Csprng

    return keygen(INSECURE_N64, Csprng.from_seed(b"tests", b"keys-n64"))


@pytest.fixture(scope="session")
def keys_n256():
    from zkflpq.bfv import INSECURE_N256, keygen
    from zkflpq.ring import Csprng

    return keygen(INSECURE_N256, Csprng.from_seed(b"tests", b"keys-n256"))


@pytest.fixture(scope="session")
def keys_default():
    from zkflpq.bfv import DEFAULT, keygen
    from zkflpq.ring import Csprng

    return keygen(DEFAULT, Csprng.from_seed(b"tests", b"keys-default"))
