"""Shared fixtures for the zkflpq.zk tests: one honest proof per parameter set, made once.

Mutation tests copy these proofs (objects via dataclasses.replace with copied arrays,
bytes via bytearray) and never modify the shared ones. Cases (v3: subring of degree d_p,
chunks in groups of L'):
  n64:     INSECURE_N64, d = 150 (k = 3 chunks, one full group of L' = 3, d not a
           multiple of N), ‖m‖ < B; d_p = N = 64 (one subring component per chunk), and
           d_p < 512 so the JL masks span 8 subring polynomials.
  n256:    INSECURE_N256, d = 300 (k = 2, one partial group of L' = 4), ‖m‖ = B exactly;
           d_p = 64, so every chunk is 4 subring components.
  default: DEFAULT (N = 4096, d_p = 1024), d = 3000 (k = 1), ‖m‖ = B − 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from zk_support import chunked, statement_for, vector_with_norm

from zkflpq.bfv import EncryptionRandomness
from zkflpq.ring import Csprng
from zkflpq.zk import NormProof, NormStatement, prove, verify


@dataclass(frozen=True, eq=False)
class Case:
    name: str
    sk: object
    pk: object
    m: np.ndarray
    rand: EncryptionRandomness
    statement: NormStatement
    proof: NormProof
    data: bytes

    @property
    def params(self):
        return self.pk.params


def _make_case(name: str, keys, d: int, bound: int, norm2: int, seed: int) -> Case:
    sk, pk = keys
    rng = np.random.default_rng(seed)
    m = chunked(pk.params, vector_with_norm(rng, d, norm2))
    st, rand = statement_for(pk, m, bound, rng=Csprng.from_seed(b"zk-tests", name.encode()))
    proof = prove(st, m, rand)
    data = proof.to_bytes()
    assert verify(st, proof), name
    return Case(name, sk, pk, m, rand, st, proof, data)


@pytest.fixture(scope="session")
def n64(keys_n64) -> Case:
    return _make_case("n64", keys_n64, d=150, bound=1000, norm2=700 ** 2, seed=64)


@pytest.fixture(scope="session")
def n256(keys_n256) -> Case:
    return _make_case("n256", keys_n256, d=300, bound=5000, norm2=5000 ** 2, seed=256)


@pytest.fixture(scope="session")
def default_case(keys_default) -> Case:
    return _make_case("default", keys_default, d=3000, bound=1 << 20, norm2=((1 << 20) - 1) ** 2,
                      seed=4096)


@pytest.fixture(scope="session")
def cases(request):
    """All three honest cases by name (lazily, so tests on n64 alone stay cheap)."""
    return lambda name: request.getfixturevalue({"default": "default_case"}.get(name, name))
